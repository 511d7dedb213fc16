"""Local hosting: endpoint configs, endpoints and the runtime API (InvokeEndpoint), a service over the
same executors jobs use, so a deployed endpoint runs under the resources its instance type stands for."""

"""The read-only web pages: `/ui` lists jobs, `/ui/jobs/<name>` shows one job's report. Thin: the
HTML comes from `report.html`, the data from the job service.

Every value that reaches a page is escaped here or in `report.html` (a job name in a URL is the
caller's text, and error messages repeat it). Authentication, the Host/Origin checks and the
headers that forbid scripts are applied to every page by `api.guard.RequestGuard`. The pages only
read, so no page can be made to change anything (and a future form would pass the Origin check)."""

from __future__ import annotations

from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from infrec.core.errors import InfrecError
from infrec.report.html import job_report, jobs_index
from infrec.services import Services


def routes(services: Services) -> list[Route]:
    async def index(_: Request) -> Response:
        listing = await run_in_threadpool(services.jobs.list_inference_recommendations_jobs, {"MaxResults": 100})
        return HTMLResponse(jobs_index(listing["InferenceRecommendationsJobs"]))

    async def job(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            details = await run_in_threadpool(services.jobs.job_details, name)
        except InfrecError as exc:
            return HTMLResponse(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>infrec</title></head>"
                                f"<body><p>{escape(exc.message)}</p><p><a href=\"/ui\">all jobs</a></p></body></html>",
                                status_code=exc.http_status)
        return HTMLResponse(job_report(details))

    async def root(_: Request) -> Response:
        return RedirectResponse("/ui")

    return [Route("/ui", index), Route("/ui/jobs/{name}", job), Route("/", root, methods=["GET"])]

"""The web pages: `/ui` lists jobs (filters, live progress, stop, pick jobs to compare),
`/ui/jobs/<name>` shows one job's report, `/ui/jobs/<name>/export.csv|json` downloads its figures,
`/ui/compare?job=a&job=b` puts jobs side by side. Thin: the HTML comes from `report`, the data and
the one state change (stop) from the job service.

Every value that reaches a page is escaped here or in `report` (a job name in a URL is the
caller's text, and error messages repeat it). Authentication, the Host/Origin checks and the
security headers are applied to every page by `api.guard.RequestGuard`: the stop form is a POST, so
a request from another web site is refused by the Origin check (CSRF), and with --auth it needs
the API's keys like every page. Pages run no script except, while a job runs, the static live
script of `web.live`, allowed by its hash alone."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from infrec.api.guard import ui_csp
from infrec.core.errors import InfrecError
from infrec.report.dashboard import JOB_TYPES, STATUSES, compare_page, jobs_index, progress_summary
from infrec.report.export import FORMATS, export
from infrec.report.html import ACTIVE_JOB, WebPage, job_report, job_url
from infrec.report.page import document
from infrec.services import Services
from infrec.web.live import SCRIPT, SCRIPT_HASH

MAX_COMPARED = 8
LIVE = WebPage(script=SCRIPT)
LIVE_HEADERS = {"Content-Security-Policy": ui_csp(SCRIPT_HASH), "Cache-Control": "no-store"}


def _message(text: str, status: int) -> HTMLResponse:
    return HTMLResponse(document("infrec", f'<p>{escape(text)}</p><p><a href="/ui">all jobs</a></p>'),
                        status_code=status)


def routes(services: Services) -> list[Route]:
    jobs = services.jobs

    def listing(status: str | None, name: str | None, job_type: str | None) -> tuple[list[dict[str, Any]],
                                                                                      dict[str, dict[str, Any]]]:
        req: dict[str, Any] = {"MaxResults": 100}
        if status:
            req["StatusEquals"] = status
        if name:
            req["NameContains"] = name
        found = jobs.list_inference_recommendations_jobs(req)["InferenceRecommendationsJobs"]
        if job_type:
            found = [j for j in found if j["JobType"] == job_type]
        progress = {}
        for j in found:
            if j["Status"] in ACTIVE_JOB:
                try:
                    progress[j["JobName"]] = progress_summary(jobs.job_details(j["JobName"]))
                except InfrecError:
                    continue   # deleted meanwhile
        return found, progress

    async def index(request: Request) -> Response:
        q = request.query_params
        status = q.get("status") if q.get("status") in STATUSES else None
        job_type = q.get("type") if q.get("type") in JOB_TYPES else None
        name = (q.get("name") or "").strip()[:64] or None
        found, progress = await run_in_threadpool(listing, status, name, job_type)
        live = bool(progress)
        page = jobs_index(found, progress, web=LIVE if live else None, status=status, name_contains=name,
                          job_type=job_type)
        return HTMLResponse(page, headers=LIVE_HEADERS if live else None)

    async def job(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            details = await run_in_threadpool(jobs.job_details, name)
        except InfrecError as exc:
            return _message(exc.message, exc.http_status)
        live = details["Job"]["Status"] in ACTIVE_JOB
        page = job_report(details, web=LIVE if live else WebPage())
        return HTMLResponse(page, headers=LIVE_HEADERS if live else None)

    async def download(request: Request) -> Response:
        name, fmt = request.path_params["name"], request.path_params["fmt"]
        if fmt not in FORMATS:
            return _message(f"format must be one of {', '.join(FORMATS)}", 404)
        try:
            details = await run_in_threadpool(jobs.job_details, name)
        except InfrecError as exc:
            return _message(exc.message, exc.http_status)
        real = details["Job"]["JobName"]
        body = await run_in_threadpool(export, details, fmt)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{real}.{fmt}"'})

    async def stop(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            await run_in_threadpool(jobs.stop_inference_recommendations_job, {"JobName": name})
        except InfrecError as exc:
            return _message(exc.message, exc.http_status)
        # 303: the browser follows with a GET, so a reload does not send the stop again.
        return RedirectResponse(job_url(name), status_code=303)

    async def progress(request: Request) -> Response:
        names = request.query_params.getlist("job")[:100]

        def read() -> dict[str, Any]:
            out = {}
            for n in names:
                try:
                    out[n] = progress_summary(jobs.job_details(n))
                except InfrecError:
                    continue
            return out
        body = await run_in_threadpool(read)
        return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})

    async def compare(request: Request) -> Response:
        names = list(dict.fromkeys(n for n in request.query_params.getlist("job") if n))
        if len(names) < 2:
            return _message("Pick two or more jobs to compare (tick them in the job list).", 400)
        if len(names) > MAX_COMPARED:
            return _message(f"Compare at most {MAX_COMPARED} jobs at once.", 400)
        try:
            all_details = await run_in_threadpool(lambda: [jobs.job_details(n) for n in names])
        except InfrecError as exc:
            return _message(exc.message, exc.http_status)
        return HTMLResponse(compare_page(all_details))

    async def root(_: Request) -> Response:
        return RedirectResponse("/ui")

    return [Route("/ui", index), Route("/ui/compare", compare), Route("/ui/progress.json", progress),
            Route("/ui/jobs/{name}", job), Route("/ui/jobs/{name}/export.{fmt}", download),
            Route("/ui/jobs/{name}/stop", stop, methods=["POST"]), Route("/", root, methods=["GET"])]

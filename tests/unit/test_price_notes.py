"""Every dollar figure a job's report shows says the region, source and date of the price behind it:
recorded per step when it ran (Details.Price), so a later catalog change does not rewrite history."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from infrec.core.catalog import Catalog
from infrec.report.html import job_report, price_notes
from infrec.report.tables import recommendations_table


def _step(name: str, itype: str, price: dict[str, Any] | None) -> dict[str, Any]:
    details = {"Price": price} if price else {}
    return {"StepIndex": 0, "Status": "COMPLETED", "EndpointConfiguration": {"EndpointName": name, "InstanceType": itype},
            "ModelConfiguration": {}, "Metrics": {"CostPerHour": 0.128, "CostPerInference": 1e-7,
                                                  "MaxInvocations": 1000, "ModelLatency": 10},
            "Details": details}


def test_price_record_comes_from_the_catalog_region() -> None:
    rec = Catalog.default("eu-west-1").get("ml.m5.large").price_record()["Price"]
    assert rec == {"UsdPerHour": 0.128, "Region": "eu-west-1",
                   "Source": "AWS Price List extract (flexera-public/policy_templates)", "Date": "2026-05-20"}


def test_report_and_table_say_where_prices_come_from() -> None:
    rec = Catalog.default("eu-west-1").get("ml.m5.large").price_record()["Price"]
    steps = [_step("e1", "ml.m5.large", rec), _step("e2", "ml.c5.large", None)]
    notes = price_notes(steps)
    assert notes[0] == ("Prices: USD/hour on-demand in eu-west-1 — AWS Price List extract "
                        "(flexera-public/policy_templates), 2026-05-20")
    assert "not recorded" in notes[1] and len(notes) == 2
    recs = [{"EndpointConfiguration": {"EndpointName": "e1", "InstanceType": "ml.m5.large"},
             "ModelConfiguration": {}, "Metrics": steps[0]["Metrics"]}]
    page = job_report({"Job": {"JobName": "j", "JobType": "Default", "Status": "COMPLETED",
                               "InferenceRecommendations": recs}, "Steps": steps, "Result": {}})
    assert "USD/hour on-demand in eu-west-1" in page and "2026-05-20" in page
    console = Console(width=250, record=True)
    console.print(recommendations_table(recs, steps))
    text = console.export_text()
    assert "USD/hour on-demand in eu-west-1" in text and "2026-05-20" in text
    assert "infrec catalog list" in price_notes(None)[0]

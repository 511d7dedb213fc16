"""`infrec/xgboost`: an XGBoost booster saved as JSON, UBJSON or the legacy binary format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infrec.serving.images.base import NumericImage


class XGBoostImage(NumericImage):
    suffixes = (".json", ".ubj", ".bst", ".model")
    kind = "XGBoost model"

    def load_file(self, path: Path) -> Any:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        if self.settings.threads:
            booster.set_param({"nthread": self.settings.threads})
        self._xgb = xgb
        return booster

    def predict(self, data: Any) -> Any:
        return self.model.predict(self._xgb.DMatrix(data))

"""The review page's local server: the standard library's ``ThreadingHTTPServer`` on
127.0.0.1, a random free port, a JSON API and the plain HTML/JS page in ``static/``. The
films shown are the run's stored display copies (``morpho.stored``); no original is read.

Every API call carries the page's token (``X-Morpho-Token``; the page reads it from its
address), so other web pages in the reader's browser cannot read or change the run.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd

from morpho.domain import GRADE_COLOURS, UNGRADED_COLOUR, hex_colour
from morpho.errors import MorphoError
from morpho.label.levels import LEVELS
from morpho.review.corrections import (
    Correction,
    append_correction,
    correct_film,
    load_corrections,
)

STATIC = {"/": ("index.html", "text/html"), "/review.js": ("review.js", "text/javascript"),
          "/review.css": ("review.css", "text/css")}  # fmt: skip
BODY_FIELDS = ["index", "level", "cx", "cy", "ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm",
               "hp_mm", "wedge_ratio", "biconcave_ratio", "crush_ratio", "genant_grade",
               "genant_type", "qa", "corrected", "review"]  # fmt: skip
MAX_BODY = 64 * 1024  # bytes a POST may carry

#: Grade colours for the page (morpho.domain), "ungraded" for a body without a grade.
GRADE_HEX = {"ungraded": hex_colour(UNGRADED_COLOUR),
             **{str(g): hex_colour(c) for g, c in GRADE_COLOURS.items()}}


def _plain(value: object) -> object:
    """JSON for table cells: None for missing values, Python numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _summary(film: pd.DataFrame) -> tuple[int, int | None, int]:
    """A film's bodies, worst grade (None when nothing is graded) and ungradable bodies."""
    grades = film["genant_grade"]
    worst = grades.max()
    return len(film), None if pd.isna(worst) else int(worst), int(grades.isna().sum())


class ReviewRun:
    """A batch run's tables and its correction log, shared by the server's threads."""

    def __init__(self, run: Path, reader: str = ""):
        self.run = Path(run)
        self.reader = reader
        for name in ("images.parquet", "measurements.parquet"):
            if not (self.run / name).is_file():
                raise MorphoError(self.run, f"not a finished morpho batch run ({name} missing)")
        self.images = pd.read_parquet(self.run / "images.parquet")
        if "stored" not in self.images or not (self.run / "run.json").is_file():
            raise MorphoError(self.run, "made by a morpho that kept no films: run morpho batch "
                              "INPUT --out NEWRUN again, then review NEWRUN")
        self.images = self.images[self.images["status"] == "ok"].reset_index(drop=True)
        measurements = pd.read_parquet(self.run / "measurements.parquet")
        self.by_file = dict(iter(measurements.groupby("file", sort=False)))
        self.empty = measurements.iloc[:0].assign(corrected=False, review="")
        grades = measurements.groupby("file", sort=False)["genant_grade"]
        self.summaries = {file: (int(n), None if pd.isna(w) else int(w), int(n - k))
                          for file, n, w, k in zip(grades.size().index, grades.size(),
                                                   grades.max(), grades.count(), strict=True)}
        self.log = load_corrections(self.run)
        self.lock = threading.Lock()

    def film(self, file: str) -> pd.DataFrame:
        """The film's rows with its corrections applied."""
        if file not in self.by_file:
            if file not in set(self.images["file"]):
                raise KeyError(file)
            return self.empty
        rows, log = self.by_file[file], self.log[self.log["file"] == file]
        return correct_film(rows, log) if len(log) else rows.assign(corrected=False, review="")

    def films(self) -> list[dict]:
        """Every measured film, flagged first (a grade 1 or worse, or nothing gradable), by
        worst grade, then by ungradable bodies."""
        corrected = set(self.log["file"])
        out = []
        for image in self.images.itertuples():
            if image.file in corrected:
                bodies, worst, ungradable = _summary(self.film(image.file))
            else:
                bodies, worst, ungradable = self.summaries.get(image.file, (0, None, 0))
            out.append({"file": image.file, "image": image.image, "bodies": bodies,
                        "worst_grade": worst, "ungradable": ungradable,
                        "corrected": image.file in corrected,
                        "flagged": worst is None or worst >= 1})  # fmt: skip
        out.sort(key=lambda f: (not f["flagged"], -(f["worst_grade"] or 0), -f["ungradable"]))
        return out

    def film_json(self, file: str) -> dict:
        """The film's bodies with their six points, for the page."""
        film = self.film(file)
        image = self.images[self.images["file"] == file].iloc[0]
        bodies = []
        for row in film.to_dict("records"):
            body = {k: _plain(row[k]) for k in BODY_FIELDS}
            body["points"] = {p: [_plain(row[f"{p}_x"]), _plain(row[f"{p}_y"])]
                              for p in ("ant_sup", "mid_sup", "post_sup", "ant_inf", "mid_inf",
                                        "post_inf")}  # fmt: skip
            bodies.append(body)
        facing = film["facing"].iloc[0] if len(film) else None
        return {"file": file, "image": image["image"], "width": int(image["cols"]),
                "height": int(image["rows"]), "facing": facing, "bodies": bodies}

    def correct(self, data: dict) -> dict:
        """Check, log and apply one correction; the film re-measured."""
        file = str(data.get("file", ""))
        with self.lock:
            film = self.by_file.get(file, self.empty)
            index = data.get("index")
            correction = Correction(
                file=file, action=str(data.get("action", "")),
                index=None if index is None else int(index), point=str(data.get("point", "")),
                x=float(data.get("x", math.nan)), y=float(data.get("y", math.nan)),
                value=str(data.get("value", "")), reader=str(data.get("reader") or self.reader),
            ).checked(film)  # fmt: skip
            self.log = append_correction(self.run, self.log, correction)
        return self.film_json(file)


class ReviewHandler(BaseHTTPRequestHandler):
    """The page and its JSON API over one ``ReviewRun``; ``make_server`` sets ``state``
    and ``token`` on a subclass."""

    state: ReviewRun
    token: str

    def log_message(self, *args: object) -> None:  # quiet: the terminal is the reader's
        return

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: object, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _allowed(self) -> bool:
        if secrets.compare_digest(self.headers.get("X-Morpho-Token", ""), self.token):
            return True
        self._json({"error": "missing or wrong token"}, HTTPStatus.FORBIDDEN)
        return False

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path in STATIC:
            name, kind = STATIC[url.path]
            text = resources.files("morpho.review").joinpath("static", name).read_bytes()
            return self._send(HTTPStatus.OK, text, f"{kind}; charset=utf-8")
        if url.path == "/api/image":  # an <img> sends no header: the token in the query
            if not secrets.compare_digest(query.get("token", ""), self.token):
                return self._json({"error": "wrong token"}, HTTPStatus.FORBIDDEN)
            return self._api(lambda: self._image(query.get("file", "")))
        if not url.path.startswith("/api/"):
            return self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
        if not self._allowed():
            return None
        routes = {"/api/films": lambda: self._json({"films": self.state.films(), "levels": LEVELS,
                                                    "reader": self.state.reader,
                                                    "colours": GRADE_HEX}),
                  "/api/film": lambda: self._json(self.state.film_json(query.get("file", "")))}
        if url.path not in routes:
            return self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
        return self._api(routes[url.path])

    def do_POST(self) -> None:  # noqa: N802
        if not self._allowed():
            return
        if urlparse(self.path).path != "/api/correct":
            return self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._json({"error": "request too large"}, HTTPStatus.BAD_REQUEST)
        body = self.rfile.read(length) or b"{}"
        return self._api(lambda: self._json(self.state.correct(json.loads(body))))

    def _image(self, file: str) -> None:
        """The run's stored display copy of the film (the original is never read); the page
        draws it at the film's original size, so points stay in original pixels."""
        from morpho.stored import StoredFilm

        stored = self.state.images.set_index("file")["stored"]
        path = StoredFilm(self.state.run, stored[file], file).need("film")
        self._send(HTTPStatus.OK, path.read_bytes(), "image/jpeg")

    def _api(self, call: Callable[[], None]) -> None:
        try:
            call()
        except KeyError as exc:
            self._json({"error": f"no such film or body: {exc}"}, HTTPStatus.NOT_FOUND)
        except (ValueError, TypeError) as exc:
            self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except (MorphoError, OSError) as exc:
            self._json({"error": str(exc)}, HTTPStatus.INTERNAL_SERVER_ERROR)


def make_server(run: Path, reader: str = "", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """The review server of ``run`` on 127.0.0.1 (``port`` 0: a free one) and the page's
    address with its token. Call ``serve_forever()`` on it (``shutdown()`` to stop)."""
    token = secrets.token_urlsafe(16)
    handler = type("Handler", (ReviewHandler,), {"state": ReviewRun(run, reader), "token": token})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.block_on_close = False  # Ctrl+C stops at once; corrections are written atomically
    return server, f"http://127.0.0.1:{server.server_address[1]}/?token={token}"

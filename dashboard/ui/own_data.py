"""Bring your own data: upload a package, see its report, and serve it by link (``data=<id>``).

An upload is unpacked into a folder of its own (:mod:`aifunding.loading.intake` refuses anything
hostile), validated like any package, and shown with its report before anyone else sees it. Once
accepted it is kept in the store (:mod:`aifunding.store`) under the hash of its normalised content,
and the link carries that id, so a colleague opening it, on any server that shares the store, sees
the same figures.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import streamlit as st

from aifunding import markup
from aifunding.data.limits import MB
from aifunding.data.report import ValidationReport
from aifunding.loading.bundle import Extension, extend_package, pack
from aifunding.loading.cache import PackageCache
from aifunding.loading.intake import IntakeLimits, Unpacked, Upload, UploadRefused, unpack
from aifunding.loading.package import Package, PackageReadError, load_package
from aifunding.loading.workbook import XLSX_MAX_ROWS
from aifunding.store.base import Store, StoreError, is_blob_id
from aifunding.store.config import open_store

from ui.state import kept_param, translator
from ui.text import notice, small

log = logging.getLogger("aifunding.dashboard")
UPLOADS_ENV = "AIFUNDING_UPLOADS"
DATA_PARAM = "data"
MODES = ("alone", "extend")


def uploads_enabled() -> bool:
    """Whether this deployment takes uploads (``AIFUNDING_UPLOADS=off`` switches them off)."""
    return os.environ.get(UPLOADS_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """The deployment's store: a folder by default, PostgreSQL when ``AIFUNDING_STORE`` names one."""
    return open_store()


@st.cache_resource(show_spinner=False)
def _work_folder() -> Path:
    """Where this server process unpacks uploads and linked packages, removed as the process exits.

    Uploads checked and never used are in it too (their uploader closed the page): a stopped server leaves none
    of people's own data unpacked in the machine's temp folder.
    """
    folder = Path(tempfile.mkdtemp(prefix="aifunding-uploads-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def linked_id() -> str | None:
    """The uploaded package this address links to, when it names one (the id is checked before use), or that the
    view keeps across a page switch, whose address has no parameters until the page writes them back."""
    value = kept_param(DATA_PARAM)
    return value if value is not None and is_blob_id(value) else None


@dataclass(frozen=True)
class Linked:
    """An uploaded package a link names: its unpacked folder and what the store says about it."""

    folder: Path
    title: str
    name: str


class UploadGone(LookupError):
    """The store no longer holds the upload a link names (removed, or evicted by a quota)."""


@st.cache_resource(show_spinner=False, max_entries=16)
def linked_package(blob_id: str) -> Linked:
    """The folder of the uploaded package ``blob_id``, fetched from the store and unpacked once per server.

    Raises:
        UploadGone: the store does not hold it. Raised, not returned, so that it is not cached: the
            same data uploaded again has the same id, and its link must then open.
    """
    stored = store().get(blob_id)
    if stored is None:
        raise UploadGone(blob_id)
    folder = _work_folder() / blob_id
    folder.mkdir(exist_ok=True)
    unpacked = unpack([Upload(f"{blob_id[:12]}.zip", stored.content)], folder)
    return Linked(unpacked.folder, stored.meta.get("title", ""), stored.meta.get("name", ""))


def open_link(blob_id: str | None) -> None:
    """Serve the uploaded package ``blob_id`` (None: the served package) from the next rerun on."""
    # The view's own record of the address's extra parameters (ui.state) changes with it.
    extra = st.session_state.setdefault("_extra_params", {})
    if blob_id is None:
        st.query_params.pop(DATA_PARAM, None)
        extra.pop(DATA_PARAM, None)
    else:
        st.query_params[DATA_PARAM] = blob_id
        extra[DATA_PARAM] = blob_id
    pending = st.session_state.pop("_upload", None)
    if pending is not None:
        pending.discard()


@dataclass
class Checked:
    """An upload read and validated, waiting for its uploader to accept it."""

    name: str
    mode: str
    workspace: Path | None = None  # everything written for this check; removed when it is done with
    folder: Path | None = None
    package: Package | None = None
    refused: str | None = None
    notes: list[str] = field(default_factory=list)
    extension: Extension | None = None
    unpacked: Unpacked | None = None

    def discard(self) -> None:
        """Remove what was written for this check (the store keeps its own copy of an accepted upload)."""
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)

    def report(self) -> ValidationReport:
        """The package's report, with clashes first and every problem placed in the upload's own files."""
        if self.package is None:
            return ValidationReport()
        report = self.package.report
        if self.extension is None:
            return self.unpacked.locate(report) if self.unpacked else report
        # Rows the upload added are placed in its own files (a workbook's sheets), as are its clashes.
        named = self.unpacked.where if self.unpacked and self.unpacked.kind == "workbook" else None
        clashes = [clash.problem(named) for clash in self.extension.clashes]
        return replace(report, problems=clashes + [self.extension.located(p, named) for p in report.problems])


def check(files: list, mode: str, served: Package) -> Checked:
    """Read, unpack and validate uploaded files, saying at each step what is happening."""
    t = translator()
    name = ", ".join(f.name for f in files)
    checked = Checked(name, mode)
    with st.status(t("upload.reading", name=name), expanded=True) as status:
        folder = checked.workspace = Path(tempfile.mkdtemp(prefix="upload-", dir=_work_folder()))
        try:
            unpacked = unpack([Upload(f.name, f.getvalue()) for f in files], folder / "upload")
        except UploadRefused as refusal:
            checked.refused = str(refusal)
            checked.discard()
            status.update(label=t("upload.refused_label"), state="error")
            return checked
        checked.notes = list(unpacked.notes)
        checked.unpacked = unpacked
        root = unpacked.folder
        try:
            if mode == "extend":
                status.write(t("upload.extending"))
                title = t("upload.extended_title", title=served.descriptor.get("title") or served.name, name=name)
                checked.extension = extend_package(served.path, root, folder / "extended", title)
                root = folder / "extended"
            status.write(t("upload.validating"))
            package = load_package(root, cache=PackageCache.from_env())
        except PackageReadError as unreadable:  # its datapackage.json is not JSON, or not an object: nothing to check
            checked.refused = f"{name}: {unreadable.public}"  # never a path on this machine
            checked.discard()
            status.update(label=t("upload.refused_label"), state="error")
            return checked
        checked.folder, checked.package = root, package
        state = "complete" if checked.report().valid else "error"
        status.update(label=t("upload.checked", name=name), state=state, expanded=False)
    return checked


def accept(checked: Checked) -> None:
    """Keep the checked upload in the store and serve it by its link (a button's callback)."""
    assert checked.folder is not None and checked.package is not None
    title = str(checked.package.descriptor.get("title") or checked.name)
    try:
        blob_id = store().put(pack(checked.folder), {"name": checked.name[:200], "title": title[:200]})
    except StoreError as error:
        st.session_state["_upload_error"] = str(error)
        return
    checked.discard()
    open_link(blob_id)


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbooks() -> ModuleType:
    """The workbook writer, imported when a workbook is asked for: openpyxl takes a quarter of a second to import."""
    import aifunding.outputs.workbook

    return aifunding.outputs.workbook


def _written(write: Callable[[io.BytesIO], None]) -> bytes:
    buffer = io.BytesIO()
    write(buffer)
    return buffer.getvalue()


def starting_points(served: Package) -> None:
    """The empty template, and the data shown now as a workbook to edit and upload again."""
    t = translator()
    template, workbook = st.columns(2)
    with template:
        st.download_button(
            t("upload.template"),
            lambda: _written(lambda handle: _workbooks().write_template(handle)),
            file_name="aifunding-template.xlsx",
            mime=XLSX_MIME,
            key="upload_template",
            on_click="ignore",
            icon=":material/table_view:",
        )
    with workbook:
        if any(served.rows(name) + 1 > XLSX_MAX_ROWS for name in served.frames):
            small(t("upload.workbook_too_long"))
        else:
            st.download_button(
                t("upload.workbook"),
                lambda: _written(lambda handle: _workbooks().write_package_workbook(handle, served)),
                file_name=f"{served.name}-workbook.xlsx",
                mime=XLSX_MIME,
                key="upload_workbook",
                on_click="ignore",
                icon=":material/download:",
            )


def upload_controls(served: Package) -> Checked | None:
    """The Data page's "bring your own data" controls; the checked upload waiting to be accepted, if any."""
    t = translator()
    st.header(t("upload.title"))
    if not uploads_enabled():
        small(t("upload.off"))
        return None
    st.markdown(t("upload.intro"))
    starting_points(served)
    # The browser refuses a file over the upload limit before sending it; intake checks again.
    limit_mb = max(1, -(-IntakeLimits.from_env().upload_bytes // MB))
    files = st.file_uploader(
        t("upload.files"),
        # No type filter: Streamlit would refuse another kind with an error page; intake names what is wrong
        # with it instead (a macro workbook, a PDF named .csv) and how to fix it.
        type=None,
        accept_multiple_files=True,
        key="upload_files",
        max_upload_size=limit_mb,
    )
    mode = st.radio(
        t("upload.mode"), MODES, format_func=lambda m: t(f"upload.mode.{m}"), key="upload_mode", horizontal=True
    )
    if st.button(t("upload.check"), disabled=not files, key="upload_check", icon=":material/fact_check:"):
        previous: Checked | None = st.session_state.pop("_upload", None)
        if previous is not None:
            previous.discard()
        st.session_state["_upload"] = check(list(files or []), mode or "alone", served)
    error = st.session_state.pop("_upload_error", None)
    if error:
        notice("error", error, ":material/error:")
    checked: Checked | None = st.session_state.get("_upload")
    if checked is not None and checked.refused:
        notice("error", t("upload.refused", reason=checked.refused), ":material/block:")
        return None
    if checked is not None:
        for note in checked.notes:
            small(markup.text(note))
    return checked

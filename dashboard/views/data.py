"""Data: every row behind the charts, the validation report, and downloads."""

import streamlit as st

from aifunding.analysis.urlstate import DATA_TABLES
from aifunding.figures.presentation import awards_table, programmes_table, shares_table
from aifunding.figures.report_tables import quarantine_table, report_counts, report_table
from aifunding.figures.worded import Worded, view_awards

from ui.blocks import download_row, full_download_row, paged_table, table_pages
from ui.engine import recipient_totals
from ui.loading import memo, served
from ui.own_data import accept, upload_controls
from ui.page import start
from ui.state import drop_param, translator
from ui.text import notice, small

prepared, view = start("data")
t = translator()
lang = view.state.lang
# Worded a page at a time: the awards of a large view are worded only as far as someone reads them.
# Each table is made only when chosen, and kept with the view, so a rerun words no page it has worded;
# the recipients' totals are a query on the analytical engine (which says so itself when it fails).
tables = {
    "awards": lambda: memo(
        view,
        "data-awards",
        lambda: view_awards(view, lambda rows: awards_table(rows, prepared.package, money=view.money, lang=lang)),
    ),
    "programmes": lambda: memo(
        view,
        "data-programmes",
        lambda: Worded(
            view.programmes, lambda rows: programmes_table(rows, prepared.package, money=view.money, lang=lang)
        ),
    ),
    "market_shares": lambda: memo(
        view,
        "data-market-shares",
        lambda: Worded(view.market_shares, lambda rows: shares_table(rows, prepared.package, lang=lang)),
    ),
    "recipients": lambda: recipient_totals(prepared, view),
}

st.header(t("data.table"))
# The table shown is in the link (``table=``, none for the awards), followed on every run: a click has already
# put its table there (``_table_chosen``), so only a new link makes a difference.
ss = st.session_state
ss["table"] = ss.setdefault("_extra_params", {}).get("table", DATA_TABLES[0])


def _table_chosen() -> None:
    """Put the clicked table in the link before the page reruns (a live audience follows it too)."""
    extra, chosen = ss.setdefault("_extra_params", {}), ss.get("table") or DATA_TABLES[0]
    extra.pop("page", None)  # another table opens at its first page
    if chosen == DATA_TABLES[0]:
        extra.pop("table", None)
    else:
        extra["table"] = chosen


# The page of the table shown is in the link too (``page=``, none for the first).
ROWS_PAGE = "rows-page"


def _page_chosen() -> None:
    extra, page = ss.setdefault("_extra_params", {}), int(ss.get(ROWS_PAGE) or 1)
    if page > 1:
        extra["page"] = str(page)
    else:
        extra.pop("page", None)


which = (
    st.segmented_control(
        t("data.which"),
        list(tables),
        key="table",
        format_func=lambda name: t(f"table.{name}"),
        on_change=_table_chosen,
    )
    or DATA_TABLES[0]
)
shown = tables[which]()
if shown is not None:
    linked_page, pages = int(ss["_extra_params"].get("page", 1)), table_pages(len(shown))
    if linked_page > pages:  # a link's page past this table's last (a link made before the data changed)
        past = t("url.page_past_end", page=f"{linked_page:,}", pages=f"{pages:,}", n=pages)
        notice("warning", past, ":material/link_off:")
        drop_param("page")
        linked_page = 1
    if pages > 1:
        ss[ROWS_PAGE] = linked_page
    paged_table(shown, key="rows", on_page=_page_chosen, snapshot=t(f"table.{which}"))
    small(t("common.download_shown"))
    download_row(shown, which, key="shown")

small(t("common.download_all"))
full_download_row(prepared, view)

st.header(t("data.report"))
# The report of the newest files, even when viewers are kept on the last valid version.
report = (served().latest or prepared).package.report
if report.valid:
    notice("success", t("data.valid", summary=report_counts(report, t.lang)), ":material/check_circle:")
else:
    notice("error", t("data.invalid", summary=report_counts(report, t.lang)), ":material/error:")
problems = report_table(report, lang)
if problems.empty:
    st.write(t("data.no_problems"))
else:
    paged_table(problems, key="problems", snapshot=t("data.report"))
    download_row(problems, "validation-report", key="problems-dl")
if report.quarantined:
    st.header(t("data.quarantined"))
    quarantined = quarantine_table(report, lang)
    paged_table(quarantined, key="quarantined", snapshot=t("data.quarantined"))
    download_row(quarantined, "quarantined-rows", key="quarantined-dl")

# Bring your own data: checked here, shown to nobody else until accepted.
checked = upload_controls(prepared.package)
if checked is not None and checked.package is not None:
    upload_report = checked.report()
    uploaded = (checked.package, checked.name)  # what its downloads are named and headed after
    kind = "success" if upload_report.valid else "error"
    words = "upload.valid" if upload_report.valid else "upload.invalid"
    notice(kind, t(words, summary=report_counts(upload_report, t.lang)), ":material/fact_check:")
    upload_problems = report_table(upload_report, lang)
    if not upload_problems.empty:
        paged_table(upload_problems, key="upload-problems")
        download_row(upload_problems, "upload-validation-report", key="upload-problems-dl", upload=uploaded)
    if upload_report.quarantined:
        small(t("upload.quarantined"))
        upload_quarantined = quarantine_table(upload_report, lang)
        paged_table(upload_quarantined, key="upload-quarantined")
        download_row(upload_quarantined, "upload-quarantined-rows", key="upload-quarantined-dl", upload=uploaded)
    st.button(
        t("upload.accept" if upload_report.valid else "upload.accept_valid_rows"),
        key="upload_accept",
        type="primary",
        on_click=accept,
        args=(checked,),
        icon=":material/publish:",
    )

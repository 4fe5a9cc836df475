"""Data: every row behind the charts, the validation report, and downloads."""

import streamlit as st

from aifunding.figures.presentation import awards_table, programmes_table, report_counts, report_table, shares_table

import components as ui

prepared, view = ui.start("data.title")
t = ui.translator()
options = {"value_column": view.value_column, "currency_column": ui.currency_column(view), "lang": view.state.lang}
tables = {
    "awards": awards_table(view.awards, prepared.package, **options),
    "programmes": programmes_table(view.programmes, prepared.package, **options),
    "market_shares": shares_table(view.market_shares, prepared.package, lang=view.state.lang),
}

st.subheader(t("data.table"))
which = st.segmented_control(
    t("data.which"),
    list(tables),
    default="awards",
    key="table",
    format_func=lambda name: t(f"table.{name}"),
)
shown = tables[which or "awards"]
st.dataframe(shown, hide_index=True, key="rows")
ui.small(t("common.download_shown"))
ui.download_row(shown, which or "awards", key="shown")

ui.small(t("common.download_all"))
ui.full_download_row(prepared, view)

st.subheader(t("data.report"))
# The report of the newest files, even when viewers are kept on the last valid version.
report = (ui.served().latest or prepared).package.report
if report.valid:
    ui.notice("success", t("data.valid", summary=report_counts(report, t.lang)), ":material/check_circle:")
else:
    ui.notice("error", t("data.invalid", summary=report_counts(report, t.lang)), ":material/error:")
problems = report_table(report, view.state.lang)
if problems.empty:
    st.write(t("data.no_problems"))
else:
    st.dataframe(problems, hide_index=True, key="problems")
if report.quarantined:
    st.subheader(t("data.quarantined"))
    st.dataframe(ui.quarantine_frame(report, view.state.lang), hide_index=True, key="quarantined")

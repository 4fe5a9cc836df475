"""The dashboard's building blocks, one job per module; pages import what they draw from here.

- :mod:`ui.loading`: the served package (cached per file signature), the last valid load, the memo.
- :mod:`ui.state`: the language, the view state kept in step with the URL and the sidebar's widgets.
- :mod:`ui.sidebar`: the filter controls.
- :mod:`ui.text`: escaped notices, small print and section headings.
- :mod:`ui.page`: every page's first line (:func:`ui.page.start`): header, banners, the share menu.
- :mod:`ui.present`: presenter mode.
- :mod:`ui.blocks`: the chart block (figure, sources, rows, downloads) and the registry's charts.
- :mod:`ui.tiles`: the Overview's highlight and total tiles.
"""

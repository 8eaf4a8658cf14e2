"""The workbench's one entry: ``streamlit run Home.py`` (or ``workbench run``).

Sets the page config, draws the sidebar once and runs the page picked in the menu; the pages
themselves are the files in ``pages/`` (the menu is ``ui.PAGES``).
"""

import ui

ui.entry()

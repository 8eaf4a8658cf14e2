"""Core of the agentic CRM workbench: domain logic with no user interface.

Pages in ``pages/`` and the ``workbench`` command call into this package; it never imports
Streamlit.
"""

__version__ = "0.1.0"

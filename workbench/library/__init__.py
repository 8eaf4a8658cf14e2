"""The content library: atoms, templates, channels and the programme they belong to.

``service`` is the front door for every edit of atoms and ``templates`` of templates (validated,
with history; deletes archive; stale saves refused);
``assembly`` fills template slots with atoms, ``validation`` checks rows before anything is
written, ``channels`` knows each channel's limits, ``seed`` loads the demo data and
``programme`` summarises the programme for the home page and the CLI.
"""

from workbench.library.assembly import Template, render

__all__ = ["Template", "render"]

"""The console's server: ``streamlit run console/server.py`` (``zhongshu console`` does).

Streamlit's own ASGI app (``st.App``) serving the pages of ``console/app.py`` plus the few sign-in
routes that must answer over plain HTTP to set the ``zhongshu_session`` cookie
(``console/sign_in.py``). Running ``console/app.py`` directly still works for AppTest and for a quick
look, but nobody can sign in there.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts console/ on the path, not the project
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from console.sign_in import routes  # noqa: E402

app = st.App(str(Path(__file__).resolve().parent / "app.py"), routes=routes())

"""Zhongshu reviewer console (Streamlit).

It talks to the hub only through the HTTP API (``console.api_client``), never to the database or
Temporal directly, so it sees exactly what any other API caller sees and needs no extra secrets.
Run it with ``streamlit run console/server.py`` (``zhongshu console``): the pages and the sign-in routes.
"""

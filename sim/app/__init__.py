"""The workshop app: pull the levers of a baseline scenario and compare the what-if with it, live.

`levers` turns workshop settings into a self-contained what-if scenario, `uploads` reads uploaded files
safely, `session` runs and compares (no Streamlit needed), `streamlit_app` is the page and `launch` starts it.
"""

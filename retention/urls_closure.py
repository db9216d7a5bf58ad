"""Closing a workspace, under /w/<slug>/closure/ (retention/closure_views.py)."""

from django.urls import URLPattern, URLResolver, path

from retention import closure_views as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.workspace_closure, name="workspace_closure"),
    path("close/", v.workspace_closure_close, name="workspace_closure_close"),
    path("cancel/", v.workspace_closure_cancel, name="workspace_closure_cancel"),
    path("export/", v.workspace_closure_export, name="workspace_closure_export"),
    path("export/download/", v.workspace_closure_download, name="workspace_closure_download"),
]

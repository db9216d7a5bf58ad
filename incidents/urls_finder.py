"""Routes under /w/<slug>/incidents/ (included from incidents/urls.py): the
affected-people finder of one incident."""

from django.urls import URLPattern, URLResolver, path

from incidents import finder_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:reference>/finder/", finder_views.finder, name="finder"),
    path("<str:reference>/finder/freeze/", finder_views.finder_freeze, name="finder_freeze"),
]

"""What the retention app adds to other apps' pages (the debt page's holds panel).
Imported from ready()."""

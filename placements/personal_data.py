from kernel.privacy.registry import declare_not_personal
from placements.models import PlacementImport

declare_not_personal(
    PlacementImport,
    file_name="the uploaded placement file's name",
    storage_name="a random file name on disk",
    rejects_storage_name="a random file name on disk",
)

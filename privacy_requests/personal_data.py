from kernel.privacy.registry import declare_not_personal
from privacy_requests.models import RequestFile

declare_not_personal(RequestFile, storage_name="a random file name on disk")

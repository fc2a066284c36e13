from . import bookkeeping_partner_sync_wizard
from . import bookkeeping_timewax_import_wizard

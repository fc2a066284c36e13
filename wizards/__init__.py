from . import bookkeeping_partner_sync_wizard

from . import (
    account_move,
    bookkeeping_backend,
    bookkeeping_backend_asperion,
    bookkeeping_backend_exact,
    bookkeeping_document,
    bookkeeping_log,
    bookkeeping_mapping,
    bookkeeping_remote_option,
    bookkeeping_token,
    res_partner,
    res_partner_asperion,
    res_partner_exact,
)

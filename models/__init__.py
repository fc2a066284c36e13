from . import (
    account_move,
    bookkeeping_backend,
    bookkeeping_log,
    bookkeeping_mapping,
    bookkeeping_remote_option,
    bookkeeping_token,
    res_partner,
)

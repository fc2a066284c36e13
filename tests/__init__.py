from . import (
    test_asperion_invoices,
    test_asperion_link,
    test_asperion_tokens,
    test_core,
    test_exact_invoices,
    test_exact_link,
    test_exact_tokens,
    test_oauth_flow,
    test_partner_sync,
    test_tour_connect,
)

from . import test_asperion_invoices
from . import test_exact_invoices

{
    "name": "Bookkeeping Link: pushes as queue jobs",
    "summary": "With OCA queue_job installed, each bookkeeping link pushes its invoices as "
    "jobs on a channel of its own",
    "version": "19.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "account_bookkeeping_link developers",
    "website": "https://github.com/account-bookkeeping-link/account_bookkeeping_link",
    "development_status": "Beta",
    "depends": ["account_bookkeeping_link", "queue_job"],
    "data": ["data/queue_job_data.xml"],
    "auto_install": True,
    "installable": True,
}

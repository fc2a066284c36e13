import { registry } from "@web/core/registry";
import { rpc } from "@web/core/network/rpc";

/**
 * The accountant's first hour, in a real browser: Settings > Bookkeeping > Link Exact
 * Online, the assistant (credentials, Connect at the sandbox's own consent page, the
 * administration, the lists loaded with the suggested mappings, Test connection, Done),
 * then an invoice posted, sent, its number synced, and the story read in its chatter.
 * The consent page lives on the sandbox's origin, where no tour runs: the test
 * (tests/test_tour_setup.py) acts as the user there (one click: Allow).
 * The steps that are a click of the user run a click; the test counts them.
 */
async function param(key) {
    return rpc("/web/dataset/call_kw/ir.config_parameter/get_param", {
        model: "ir.config_parameter",
        method: "get_param",
        args: [`account_bookkeeping_link.${key}`],
        kwargs: {},
    });
}

registry.category("web_tour.tours").add("account_bookkeeping_link_setup", {
    steps: () => [
        {
            content: "Settings: search for the bookkeeping package",
            trigger: ".o_searchview_input",
            run: "edit Exact",
        },
        {
            content: "The Bookkeeping block is found: link Exact Online",
            trigger: "button[name=action_bookkeeping_link]:contains(Link Exact Online)",
            run: "click",
        },
        {
            content: "The assistant opens on the credentials, with the redirect URL to copy",
            trigger: "div[name=redirect_uri]:contains(/bookkeeping_link/oauth/callback)",
        },
        {
            content: "Client ID of the app",
            trigger: "div[name=client_id] input",
            run: "edit sandbox-client",
        },
        {
            content: "Client secret of the app",
            trigger: "div[name=client_secret] input",
            run: "edit sandbox-secret",
        },
        {
            content: "Open the location choices",
            trigger: "div[name=exact_location] input",
            run: "click",
        },
        {
            content: "Choose the sandbox location (a real accountant keeps Netherlands)",
            trigger: ".o_select_menu_item:contains(Sandbox / test server)",
            run: "click",
        },
        {
            content: "Enter the sandbox's address",
            trigger: "div[name=exact_base_url] input:not([readonly])",
            async run(helpers) {
                await helpers.edit(await param("tour_sandbox_url"));
            },
        },
        {
            content: "Connect: the browser goes to the sandbox's consent page (and back)",
            trigger: "button[name=action_setup_connect]",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back in the assistant: connected, the administration chosen",
            trigger: ".o_bookkeeping_last_message:contains(Connected to Exact Online administration 1001)",
            timeout: 30000,
        },
        {
            content: "The division is preselected",
            trigger: "div[name=step_administration] div[name=administration_name]:contains(Sandbox BV)",
        },
        {
            content: "Load the lists and apply the suggested mappings",
            trigger: "button[name=action_setup_load]",
            run: "click",
        },
        {
            content: "The lists were loaded and the taxes mapped",
            trigger: ".o_bookkeeping_last_message:contains(VAT codes)",
            timeout: 20000,
        },
        {
            content: "The 21% tax got the 21% code",
            trigger: "div[name=step_mappings] .o_data_row:contains(2 - BTW hoog 21%)",
        },
        {
            content: "Test the connection",
            trigger: "button[name=action_setup_test]",
            run: "click",
        },
        {
            content: "Tested: the link is ready",
            trigger: "div[name=step_test] h2:contains(The link is ready)",
            timeout: 20000,
        },
        {
            content: "Done",
            trigger: "div[name=step_test] button[name=action_setup_finish]",
            run: "click",
        },
        {
            content: "The link form: Linked",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains(Linked)",
        },
        // ---- after the assistant: an invoice posted, sent, its number synced
        {
            content: "Open the draft invoice",
            trigger: ".o_form_view",
            async run() {
                const id = await param("tour_invoice_id");
                window.location.href = `/odoo/action-account.action_move_out_invoice_type/${id}`;
            },
            expectUnloadPage: true,
        },
        {
            content: "Post it",
            trigger: "button[name=action_post]:not(:disabled)",
            run: "click",
        },
        {
            content: "Send it to the bookkeeping package",
            trigger: "button[name=action_bookkeeping_send]",
            run: "click",
        },
        {
            content: "It is booked",
            trigger: ".o_notification:contains(1 of 1 invoices sent)",
            timeout: 20000,
        },
        {
            content: "Sync its number and payment",
            trigger: "button[name=action_bookkeeping_sync]",
            run: "click",
        },
        {
            content: "The sync says what came back",
            trigger: ".o_notification:contains(numbers received)",
            timeout: 20000,
        },
        {
            content: "The chatter tells the story",
            trigger: ".o-mail-Message:contains(Booked in Exact Online administration 1001)",
        },
    ],
});

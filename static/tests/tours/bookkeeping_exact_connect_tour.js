import { registry } from "@web/core/registry";
import { rpc } from "@web/core/network/rpc";

/**
 * A manager links Exact Online to the sandbox from the link form, in a real browser:
 * the Sandbox location shows the base URL (no developer mode), Connect opens the
 * sandbox's login and consent page, Allow brings the browser back to Odoo's callback,
 * and the link is Linked. The consent page lives on the sandbox's own origin, where no
 * tour runs: the test (tests/test_tour_connect.py) acts as the user there.
 */
registry.category("web_tour.tours").add("account_bookkeeping_link_exact_connect", {
    steps: () => [
        {
            content: "Open the Exact Online tab",
            trigger: ".o_notebook_headers a:contains(Exact Online)",
            run: "click",
        },
        {
            content: "A production location shows its host, read-only",
            trigger: "div[name=exact_base_url]:contains(start.exactonline.nl)",
        },
        {
            content: "Open the location choices",
            trigger: "div[name=exact_location] input",
            run: "click",
        },
        {
            content: "Choose the sandbox location",
            trigger: ".o_select_menu_item:contains(Sandbox / test server)",
            run: "click",
        },
        {
            content: "The base URL is now editable: enter the sandbox's address",
            trigger: "div[name=exact_base_url] input:not([readonly])",
            async run(helpers) {
                const url = await rpc("/web/dataset/call_kw/ir.config_parameter/get_param", {
                    model: "ir.config_parameter",
                    method: "get_param",
                    args: ["account_bookkeeping_link.tour_sandbox_url"],
                    kwargs: {},
                });
                await helpers.edit(url);
            },
        },
        {
            content: "Connect (saves first): the browser goes to the sandbox's consent page",
            trigger: "button[name=action_connect]:contains(Connect)",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back in Odoo after Allow: the link is made",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains(Linked)",
            timeout: 30000,
        },
        {
            content: "The division was loaded and chosen",
            trigger: "div[name=administration_name]:contains(Sandbox BV)",
        },
    ],
});

-- A copied or restored database must never touch the live administrations: with the
-- production tokens it would push invoices there, and its first refresh would rotate the
-- refresh token and so break production's own link.
-- * the tokens are wiped: nothing can call, nothing can rotate;
-- * every link goes back to "Not linked" with the reason: a push, a sync or the keep-alive
--   skips it, and only an explicit Connect (a login at the remote package) links it again,
--   preferably to a test administration;
-- * our crons, each link's own push job included, stop with all the others (base's
--   neutralization); invoices keep their state.
DELETE FROM bookkeeping_token;
UPDATE bookkeeping_backend
   SET state = 'draft',
       paused_until = NULL,
       pause_reason = NULL,
       state_message = 'This database is a neutralized copy: the link was disconnected and '
                       'its tokens removed, so that it never sends to the live administration. '
                       'Connect it to a test administration to try it out.';
UPDATE ir_cron
   SET active = false
 WHERE id IN (SELECT res_id
                FROM ir_model_data
               WHERE module = 'account_bookkeeping_link'
                 AND model = 'ir.cron')
    OR id IN (SELECT cron_id FROM bookkeeping_backend_push_cron_rel);

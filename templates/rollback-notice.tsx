import { Link } from '@react-email/components';
import { Bullets, H2, Layout, P, SupportContact, type NoticeProps, type NoticeTemplate } from './layout.js';

/**
 * After a rollback (or, with `extra.cancelled`, after the window was called off): the old system is
 * what people use, so the one thing they must hear is that they do NOT reset their password.
 */
function RollbackNotice({ v, extra }: NoticeProps) {
  const cancelled = extra.cancelled === true;
  return (
    <Layout
      v={v}
      preview={cancelled ? `The ${v.productName} maintenance is called off. Nothing changes for you.` : `${v.productName} is running on its previous system. No password reset needed.`}
      title={cancelled ? `${v.productName} maintenance called off` : `${v.productName} maintenance update: previous system restored`}
    >
      {cancelled ? (
        <P>
          The maintenance planned for {v.windowStart} will not go ahead. {v.productName} stays available as usual.
        </P>
      ) : (
        <P>
          During the maintenance we found an issue with the new infrastructure. To keep your service reliable, we have
          moved {v.productName} back to its previous system.
        </P>
      )}
      {extra.reason ? <P>What happened: {extra.reason}</P> : null}
      <H2>What you need to know</H2>
      <Bullets
        items={[
          <>
            <strong>You do not need to reset your password.</strong> Sign in with your existing password as before.
          </>,
          <>
            <strong>Your data is preserved</strong>, including readings recorded{cancelled ? '' : ' during the maintenance'}.
          </>,
          <>{v.productName} works normally.</>,
        ]}
      />
      <H2>What happens next</H2>
      <P>
        {cancelled ? 'We will' : 'We are investigating the issue and will'} reschedule the maintenance, and you will get
        advance notice again before it happens.
      </P>
      <P>
        We are sorry for the disruption. Status updates: <Link href={v.statusPageUrl}>{v.statusPageUrl}</Link>. Questions:{' '}
        <SupportContact contact={v.supportContact} />.
      </P>
    </Layout>
  );
}

export const rollbackNotice: NoticeTemplate = {
  id: 'rollback-notice',
  when: 'after a rollback, or when the window is called off',
  subject: (v, extra) =>
    extra.cancelled
      ? `${v.productName} maintenance on ${v.windowDate} is called off`
      : `${v.productName} update: we have restored the previous system`,
  Component: RollbackNotice,
};

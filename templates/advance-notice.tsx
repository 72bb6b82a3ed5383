import { Link } from '@react-email/components';
import { Bullets, H2, Layout, P, SupportContact, WindowTimes, type NoticeProps, type NoticeTemplate } from './layout.js';

/** T-48h: the first notice. Everything a user must plan around, the password reset above all. */
function AdvanceNotice({ v }: NoticeProps) {
  return (
    <Layout v={v} preview={`${v.productName} will be offline for maintenance on ${v.windowDate}.`} title={`Scheduled maintenance: ${v.productName}`}>
      <P>
        We are moving {v.productName} to new infrastructure. While we do, {v.productName} will be unavailable for about{' '}
        {v.windowDuration}.
      </P>
      <WindowTimes v={v} />
      <H2>What is happening</H2>
      <P>
        We are upgrading the systems behind {v.productName} to make it faster, more secure and better monitored. Your data
        moves with it.
      </P>
      <H2>What you need to know</H2>
      <Bullets
        items={[
          <>
            <strong>{v.productName} will be offline during the window:</strong> no dashboard, no alerts and no access to
            readings until the maintenance is complete.
          </>,
          <>
            <strong>Your sensors keep working.</strong> They keep recording temperatures, and the readings sync once the
            maintenance is complete.
          </>,
          <>
            <strong>You will need to reset your password</strong> after the maintenance. We will email you the steps when{' '}
            {v.productName} is back; your current password will no longer work.
          </>,
          <>
            <strong>No data will be lost.</strong> Everything in your account comes across.
          </>,
        ]}
      />
      <P>
        Follow the maintenance live at <Link href={v.statusPageUrl}>{v.statusPageUrl}</Link>. If you have questions, contact
        us at <SupportContact contact={v.supportContact} />.
      </P>
    </Layout>
  );
}

export const advanceNotice: NoticeTemplate = {
  id: 'advance-notice',
  when: '48 hours before the window',
  subject: (v) => `Scheduled maintenance: ${v.productName} will be unavailable on ${v.windowDate}`,
  Component: AdvanceNotice,
};

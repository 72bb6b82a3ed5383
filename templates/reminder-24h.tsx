import { Link } from '@react-email/components';
import { Bullets, H2, Layout, P, WindowTimes, type NoticeProps, type NoticeTemplate } from './layout.js';

/** T-24h: a short reminder with what to do before the window. */
function Reminder24h({ v }: NoticeProps) {
  return (
    <Layout v={v} preview={`Reminder: ${v.productName} maintenance starts ${v.windowStart}.`} title={`Reminder: ${v.productName} maintenance tomorrow`}>
      <P>
        As announced, {v.productName} will be unavailable for about {v.windowDuration} while we move it to new
        infrastructure.
      </P>
      <WindowTimes v={v} />
      <H2>Before the maintenance</H2>
      <Bullets
        items={[
          <>Download any reports you will need during the window.</>,
          <>Note your active alerts, so you can follow up on them while {v.productName} is offline.</>,
          <>
            Make sure you can receive email at this address: you will need it to reset your password after the
            maintenance.
          </>,
        ]}
      />
      <P>
        Your sensors keep recording during the maintenance and no data will be lost. Updates during the window:{' '}
        <Link href={v.statusPageUrl}>{v.statusPageUrl}</Link>.
      </P>
    </Layout>
  );
}

export const reminder24h: NoticeTemplate = {
  id: 'reminder-24h',
  when: '24 hours before the window',
  subject: (v) => `Reminder: ${v.productName} maintenance on ${v.windowDate}`,
  Component: Reminder24h,
};

import { Link } from '@react-email/components';
import { Bullets, H2, Layout, P, Steps, SupportContact, type NoticeProps, type NoticeTemplate } from './layout.js';

/** After validation: the system is back and every user must reset their password (hashes do not move). */
function MaintenanceComplete({ v }: NoticeProps) {
  return (
    <Layout v={v} preview={`${v.productName} is back. Reset your password to sign in.`} title={`${v.productName} is back: please reset your password`}>
      <P>The maintenance is complete and {v.productName} is back online. All your data has been preserved.</P>
      <H2>Reset your password (required)</H2>
      <P>Your previous password no longer works. To sign in again:</P>
      <Steps
        items={[
          <>
            Go to <Link href={v.resetUrl}>{v.resetUrl}</Link>.
          </>,
          <>Enter the email address this message was sent to.</>,
          <>Open the reset email we send you and follow its link.</>,
          <>Choose a new password, then sign in as usual.</>,
        ]}
      />
      <H2>If the reset email does not arrive</H2>
      <Bullets
        items={[
          <>Wait a few minutes, then check your spam or junk folder.</>,
          <>Make sure you entered the address this message was sent to.</>,
          <>
            Still nothing? Contact us at <SupportContact contact={v.supportContact} /> and we will help you in.
          </>,
        ]}
      />
      <H2>What is new</H2>
      <Bullets
        items={[
          <>Faster performance across the dashboard and reports.</>,
          <>Enhanced security.</>,
          <>Improved monitoring, so we spot problems before you do.</>,
        ]}
      />
      <P>
        Readings your sensors recorded during the maintenance have synced. If anything looks wrong, tell us at{' '}
        <SupportContact contact={v.supportContact} />.
      </P>
    </Layout>
  );
}

export const maintenanceComplete: NoticeTemplate = {
  id: 'maintenance-complete',
  when: 'when the new system is validated',
  subject: (v) => `${v.productName} is back: please reset your password`,
  Component: MaintenanceComplete,
};

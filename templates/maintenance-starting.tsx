import { Link } from '@react-email/components';
import { Layout, P, type NoticeProps, type NoticeTemplate } from './layout.js';

/** T-0: short, because people read it on their phone while the app is already down. */
function MaintenanceStarting({ v }: NoticeProps) {
  return (
    <Layout v={v} preview={`${v.productName} is offline for maintenance until about ${v.windowEnd}.`} title={`${v.productName} maintenance has started`}>
      <P>
        {v.productName} is now offline for the planned maintenance. We expect it to be back by{' '}
        <strong>{v.windowEnd}</strong>.
      </P>
      <P>
        Your sensors keep recording in the meantime. Follow our progress at{' '}
        <Link href={v.statusPageUrl}>{v.statusPageUrl}</Link>; we will email you as soon as {v.productName} is back.
      </P>
    </Layout>
  );
}

export const maintenanceStarting: NoticeTemplate = {
  id: 'maintenance-starting',
  when: 'when the window starts',
  subject: (v) => `${v.productName} maintenance has started`,
  Component: MaintenanceStarting,
};

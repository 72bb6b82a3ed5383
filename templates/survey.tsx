import { Link } from '@react-email/components';
import { Bullets, Layout, P, SupportContact, type NoticeProps, type NoticeTemplate } from './layout.js';

/** T+24h, optional: ask how the move went for them. */
function Survey({ v, extra }: NoticeProps) {
  return (
    <Layout v={v} preview={`How is ${v.productName} working for you since the upgrade?`} title={`How is ${v.productName} working for you?`}>
      <P>A day after the upgrade, we would like to hear how it went for you. A few quick questions:</P>
      <Bullets
        items={[
          <>Did the password reset work for you?</>,
          <>Is {v.productName} faster, slower, or about the same?</>,
          <>Have you noticed anything wrong or missing?</>,
          <>What could we improve?</>,
        ]}
      />
      {extra.surveyUrl ? (
        <P>
          Answer here: <Link href={extra.surveyUrl}>{extra.surveyUrl}</Link>
        </P>
      ) : (
        <P>Just reply to this email with your answers.</P>
      )}
      <P>
        For anything urgent, contact <SupportContact contact={v.supportContact} /> directly.
      </P>
    </Layout>
  );
}

export const survey: NoticeTemplate = {
  id: 'survey',
  when: 'a day after the switch (optional)',
  subject: (v) => `How is ${v.productName} working for you since the upgrade?`,
  Component: Survey,
};

import { Body, Container, Head, Heading, Hr, Html, Link, Preview, Section, Text } from '@react-email/components';
import type { ReactNode } from 'react';

/**
 * What every notice may say. All text that varies by plan comes through here, typed, so a template
 * cannot forget the zone of a time or invent a URL.
 */
export interface NoticeVariables {
  productName: string;
  /** Window start in the plan's zone, with abbreviation and offset: "Saturday, December 5, 2026 at 10:00 PM EST (UTC-05:00)". */
  windowStart: string;
  /** Window end, formatted like the start with its own offset (it differs across a DST change). */
  windowEnd: string;
  /** Short date of the start for subjects: "Saturday, December 5". */
  windowDate: string;
  /** "2 hours 30 minutes". */
  windowDuration: string;
  /** The IANA zone the times are in, named in the text. */
  timeZone: string;
  statusPageUrl: string;
  /** An email address or a URL. */
  supportContact: string;
  /** Where users reset their password after the move. */
  resetUrl: string;
}

/** Per-send additions a step may supply. */
export interface NoticeExtra {
  /** Rollback notice: one sentence on what went wrong, in plain words. */
  reason?: string;
  /** Rollback notice sent for an abort: the maintenance was called off before anything changed. */
  cancelled?: boolean;
  /** Survey notice: a form to answer in; without it, people reply to the email. */
  surveyUrl?: string;
}

export interface NoticeProps {
  v: NoticeVariables;
  extra: NoticeExtra;
}

const body = { backgroundColor: '#f4f5f7', fontFamily: 'Helvetica, Arial, sans-serif', color: '#1f2933' };
const container = { backgroundColor: '#ffffff', margin: '24px auto', padding: '24px 32px', maxWidth: '600px' };
const heading = { fontSize: '22px', lineHeight: '28px', margin: '0 0 16px' };
const subheading = { fontSize: '16px', lineHeight: '22px', margin: '24px 0 8px' };
const paragraph = { fontSize: '15px', lineHeight: '22px', margin: '0 0 12px' };
const footer = { fontSize: '13px', lineHeight: '20px', color: '#52606d', margin: '0 0 4px' };

export function supportHref(contact: string): string | undefined {
  if (/^https?:\/\//.test(contact)) return contact;
  if (/^[^\s@]+@[^\s@]+$/.test(contact)) return `mailto:${contact}`;
  return undefined;
}

export function SupportContact({ contact }: { contact: string }) {
  const href = supportHref(contact);
  return href ? <Link href={href}>{contact}</Link> : <>{contact}</>;
}

export function P({ children }: { children: ReactNode }) {
  return <Text style={paragraph}>{children}</Text>;
}

export function H2({ children }: { children: ReactNode }) {
  return (
    <Heading as="h2" style={subheading}>
      {children}
    </Heading>
  );
}

export function Bullets({ items }: { items: ReactNode[] }) {
  return (
    <ul style={{ ...paragraph, paddingLeft: '20px' }}>
      {items.map((item, index) => (
        <li key={index} style={{ margin: '0 0 6px' }}>
          {item}
        </li>
      ))}
    </ul>
  );
}

export function Steps({ items }: { items: ReactNode[] }) {
  return (
    <ol style={{ ...paragraph, paddingLeft: '20px' }}>
      {items.map((item, index) => (
        <li key={index} style={{ margin: '0 0 6px' }}>
          {item}
        </li>
      ))}
    </ol>
  );
}

/** The window, always with both ends and the zone spelled out. */
export function WindowTimes({ v }: { v: NoticeVariables }) {
  return (
    <Bullets
      items={[
        <>
          <strong>Starts:</strong> {v.windowStart}
        </>,
        <>
          <strong>Expected to end:</strong> {v.windowEnd}
        </>,
        <>
          <strong>Expected duration:</strong> {v.windowDuration} (times shown in {v.timeZone})
        </>,
      ]}
    />
  );
}

export function Layout({ v, preview, title, children }: { v: NoticeVariables; preview: string; title: string; children: ReactNode }) {
  return (
    <Html lang="en">
      <Head />
      <Preview>{preview}</Preview>
      <Body style={body}>
        <Container style={container}>
          <Heading as="h1" style={heading}>
            {title}
          </Heading>
          {children}
          <Hr />
          <Section>
            <Text style={footer}>
              Live status: <Link href={v.statusPageUrl}>{v.statusPageUrl}</Link>
            </Text>
            <Text style={footer}>
              Questions: <SupportContact contact={v.supportContact} />
            </Text>
            <Text style={footer}>The {v.productName} team</Text>
          </Section>
        </Container>
      </Body>
    </Html>
  );
}

export type NoticeId =
  | 'advance-notice'
  | 'reminder-24h'
  | 'maintenance-starting'
  | 'maintenance-complete'
  | 'rollback-notice'
  | 'survey';

export interface NoticeTemplate {
  id: NoticeId;
  /** When in the timeline it goes out, for previews. */
  when: string;
  subject(v: NoticeVariables, extra: NoticeExtra): string;
  Component(props: NoticeProps): ReactNode;
}

// RFC 5424 lines for log.txt: host time as the TIMESTAMP, the box's uptime and session
// as structured data (32473 is the enterprise number RFC 5612 reserves for examples).
// The board (HOSTNAME) and the message come from the line: escaped (escape-text.ts).
import { LogRecord } from '../channel/records';
import { escapeLineMessage, escapeLineText, lineNumber } from './escape-text';

const FACILITY_USER = 1;

export function syslogLine(hostTimeMs: number, hostname: string, app: string, session: string, log: LogRecord): string {
  const sev = Number.isInteger(log.severity) && log.severity >= 0 && log.severity <= 7 ? log.severity : 6;
  const pri = FACILITY_USER * 8 + sev;
  // HOSTNAME is printable ASCII without spaces: escaped first, so ESC shows as \x1b, not _.
  const host = escapeLineText(hostname).replace(/[^\x21-\x7e]/g, '_').slice(0, 255) || '-';
  const sd = `[sealtap@32473 session="${session}" uptimeMs="${Math.floor(lineNumber(log.uptimeMs) || 0)}"]`;
  const msg = escapeLineMessage(log.msg ?? '');
  return `<${pri}>1 ${new Date(hostTimeMs).toISOString()} ${host} ${app} - LOG ${sd} ${msg}`;
}

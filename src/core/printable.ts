/**
 * Text from a file or the network shown in a one-line message (a WAV chunk id, a file name): its
 * control characters escaped, so an ESC cannot drive the terminal or the journal viewer and a
 * newline cannot split the line or forge another one. C0 controls, DEL and C1 controls become
 * `\xNN` (`\n`, `\r`, `\t` their usual escapes); everything else is kept.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is this function's purpose
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The same, keeping line breaks: for messages that are lists of lines (a config error). */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

// Text and data from the line, made safe for report.html. The page is opened from a
// results folder in a browser: a board name, firmware name or stop reason holding
// `<script>` or `"><img onerror=…>` must show as those characters and never become
// markup. Every string put into the page goes through htmlText (element content and
// quoted attribute values alike); the embedded data goes through embedJson, which
// cannot close its <script type="application/json"> element.

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `value` as text for HTML element content or a quoted attribute value. */
export function htmlText(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON for a <script type="application/json"> element: `<`, `>` and `&` as \u escapes
 * (so no `</script>` or `<!--` can end or alter the element), U+2028/2029 too. JSON.parse
 * of the element's text gives back exactly `value`.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

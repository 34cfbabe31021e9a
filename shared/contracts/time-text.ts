/**
 * Times as the API's text states them, as JSON Schema patterns (ECMA regexes) that say the whole
 * rule for one value, so the OpenAPI document and the handlers agree (docs/api.md).
 */
import { z } from 'zod';

/** A regex's body without its anchors, with ASCII digits. */
const body = (re: RegExp) => re.source.replace(/^\^|\$$/g, '').replaceAll('\\d', '[0-9]');

/** A real calendar day (leap years included), as `z.iso.date()` checks it. */
export const ISO_DATE = body(z.regexes.date);

/** Time of day with `Z` or an offset: a date-time without a zone is ambiguous. */
export const ISO_TIME =
  'T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])';

/** An ISO-8601 date (UTC midnight) or date-time with a zone: every match is an instant Date.parse reads. */
export const INSTANT_PATTERN = new RegExp(`^${ISO_DATE}(?:${ISO_TIME})?$`);

/** `time_range`: two real calendar days, `from:to`. */
export const DAY_RANGE_PATTERN = new RegExp(`^(${ISO_DATE}):(${ISO_DATE})$`);

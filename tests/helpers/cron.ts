import fc from "fast-check";
import { scheduleProblem } from "../../config/backup";

/** Schedules of the grammar backupSchedule accepts. */
const field = (min: number, max: number, names?: readonly string[]) => {
  const value = names
    ? fc.oneof(
        fc.integer({ min, max }).map(String),
        fc.integer({ min: 0, max: names.length - 1 }).map((i) => names[i]),
      )
    : fc.integer({ min, max }).map(String);
  const range = fc
    .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
    .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const item = fc.oneof(
    value,
    range,
    fc
      .tuple(fc.oneof(fc.constant("*"), range), fc.integer({ min: 1, max: 12 }))
      .map(([r, s]) => `${r}/${s}`),
  );
  return fc.oneof(
    fc.constant("*"),
    fc.array(item, { minLength: 1, maxLength: 3 }).map((a) => a.join(",")),
  );
};
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/** Five-field expressions of that grammar, accepted or not. */
export const grammarSchedules = fc
  .tuple(field(0, 59), field(0, 23), field(1, 31), field(1, 12, MONTHS), field(0, 6, DAYS))
  .map((f) => f.join(" "));
export const acceptedSchedules = grammarSchedules.filter((s) => scheduleProblem(s) === undefined);

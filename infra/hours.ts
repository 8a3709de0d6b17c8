// Hours as Alertmanager's time intervals take them, checked before anything is created: the
// platform's support and page hours (environment files) and each tenant's support hours.

import { HoursInput as Hours } from "../components/render/alertmanagerConfig";

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** What Alertmanager would refuse, under `key`: a zone the time zone database does not know, weekdays that are none or run backwards, an end not after the start. */
export function hoursProblems(hours: Hours, key: string): string[] {
    const problems: string[] = [];
    try {
        new Intl.DateTimeFormat("en", { timeZone: hours.location });
    } catch {
        problems.push(`${key}.location: ${hours.location} is not a time zone of the IANA database (e.g. Europe/London, America/New_York, UTC)`);
    }
    hours.weekdays.forEach((entry, i) => {
        const days = entry.split(":");
        const unknown = days.filter((day) => !WEEKDAYS.includes(day));
        if (unknown.length > 0) {
            problems.push(`${key}.weekdays[${i}]: ${unknown.join(", ")} is not a weekday (${WEEKDAYS.join(", ")})`);
        } else if (days.length === 2 && WEEKDAYS.indexOf(days[0]) > WEEKDAYS.indexOf(days[1])) {
            problems.push(`${key}.weekdays[${i}]: ${entry} runs backwards (weeks start on sunday); write it as two entries, e.g. "${days[0]}:saturday" and "sunday:${days[1]}"`);
        }
    });
    if (hours.start >= hours.end) {
        problems.push(`${key}.end: ${hours.end} is not after ${key}.start ${hours.start}; the hours lie within one day (Alertmanager's time intervals do)`);
    }
    return problems;
}

"""Everything the bot says, in English; each text has a key (`[texts.de] welcome = "..."` overrides it).

The English texts are the gettext msgids: `make texts` extracts them (Babel, keyword `_t`) into
bot/locale/feedbot.pot, merges that into each language's .po and compiles the .mo files that ship in
the wheel. A text added here without a translation yet is said in English (gettext falls back to the
msgid). Placeholders are `{name}` fields filled by `bot.i18n.Voice`; dates and numbers are formatted
for the customer's language before they are put in. Plain text: adapters escape it for their markup.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

MAX_ANSWER_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Text:
    """One text: the key that overrides it in the config, and its English wording (the msgid)."""

    key: str
    msgid: str

    @property
    def placeholders(self) -> frozenset[str]:
        return placeholders(self.msgid)


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` fields of a text (format specs and conversions aside)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


TEXTS: dict[str, Text] = {}


def _t(key: str, msgid: str) -> Text:
    if key in TEXTS:
        raise ValueError(f"text {key!r} defined twice")
    TEXTS[key] = text = Text(key, msgid)
    return text


# ------------------------------------------------------------------------------------- subscribing
# The welcome is built from the configured polls: {question} is the first poll's question in the
# customer's language, {rating} one of the RATING_HINT texts (or nothing when no poll asks for one).
WELCOME = _t(
    "welcome",
    "{greeting} You're subscribed. Now and then I'll ask one short question, such as “{question}” – "
    "just reply in your own words.{rating}\n"
    "Send /stop at any time to stop, /mydata to see what is stored about you, and /forget to erase it.",
)
GREETING = _t("greeting", "Hi {name}!")
GREETING_NO_NAME = _t("greeting_no_name", "Hi!")
SAMPLE_QUESTION = _t("sample_question", "What was your favourite part?")
RATING_HINT = _t("rating_hint", " If you like, rate it from {low} to {high} as well.")
RATING_HINT_ANY = _t("rating_hint_any", " If you like, give it a rating as well.")
PAUSED = _t("paused", "Paused: no questions until {until}. Send /start to resume earlier, /stop to end them.")
PAUSE_USAGE = _t("pause_usage", "Usage: /pause [weeks] – from 1 to 12 weeks (4 if you leave it out).")
RESUMED = _t("resumed", "Welcome back – your questions resume now.")
BAD_TAG = _t("bad_tag", "That start code isn't valid, so I subscribed you without it.")
STOPPED = _t(
    "stopped",
    "Done – you won't get any more questions. Send /start to subscribe again.\n"
    "Your earlier answers are kept; /forget erases them.",
)
NOT_SUBSCRIBED = _t("not_subscribed", "You're not subscribed. Send /start to receive the occasional question.")

# ------------------------------------------------------------------------------------- your data
NO_DATA = _t("no_data", "Nothing is stored about you.")
MYDATA_INTRO = _t("mydata_intro", "Everything stored about you (JSON):")
FORGET_CONFIRM = _t("forget_confirm", "This erases your subscription and all your answers, for good. Are you sure?")
FORGET_YES_BUTTON = _t("forget_yes_button", "Yes, erase everything")
FORGET_NO_BUTTON = _t("forget_no_button", "No, keep it")
# Typed instead of pressing a button: the words, separated by spaces (English ones always count too).
YES_WORDS = _t("yes_words", "yes y")
NO_WORDS = _t("no_words", "no n")
FORGET_DONE = _t(
    "forget_done", "Done. Everything stored about you has been erased. Send /start if you ever want to come back."
)
FORGET_CANCELLED = _t("forget_cancelled", "Nothing was erased.")
FORGET_EXPIRED = _t(
    "forget_expired", "That confirmation has expired. Send /forget again if you want to erase your data."
)
PRIVACY = _t(
    "privacy",
    "What is stored about you: your chat id and user id on this platform, your display name and language, "
    "the start code you subscribed with, which questions were sent to you, and your answers and ratings.\n"
    "Why: so the team running this bot can learn what customers liked and whether it meets its goals. "
    "Only people who subscribed are asked.\n"
    "How long: until you send /forget, which erases all of it at once. /stop ends the questions, "
    "/mydata shows everything stored, as JSON.",
)
PRIVACY_POLICY = _t("privacy_policy", "The full privacy policy: {url}")

# ------------------------------------------------------------------------------------- answering
ASK_IN_WORDS = _t("ask_in_words", "Thanks! I can only read text – please answer in words.")
OWN_WORDS = _t("own_words", "That's a forwarded message – please answer in your own words.")
TOO_LONG = _t("too_long", "Sorry, that's too long: {length} characters, and the limit is {limit}. Please shorten it.")
NO_OPEN_QUESTION = _t(
    "no_open_question", "Thanks for your message! There's no open question right now. Send /help to see what I can do."
)
THANKS = _t("thanks", "Thank you for your answer!")
THANKS_LATE = _t(
    "thanks_late", "Thank you! This question had already closed, but your answer is kept and marked as late."
)
ASK_RATING = _t("ask_rating", "Thanks! How would you rate it, from {low} to {high}?")
RATING_THANKS = _t("rating_thanks", "Thank you – rating saved.")
ASK_WORDS = _t(
    "ask_words", "Thanks – your rating of {rating} is saved. What's the main reason? A few words help us most."
)
RATING_AGAIN = _t("rating_again", "Please choose a number from {low} to {high}.")
RATING_ALREADY = _t("rating_already", "Your rating was already saved – thank you.")
# Discord's answer form for a question (button, form title, fields; a form title has at most 45 characters).
ANSWER_BUTTON = _t("answer_button", "Answer")
ANSWER_FORM_TITLE = _t("answer_form_title", "Your answer")
ANSWER_FORM_FIELD = _t("answer_form_field", "Your answer")
RATING_FORM_FIELD = _t("rating_form_field", "Rating from {low} to {high} (optional)")
RATING_FORM_HINT = _t("rating_form_hint", "A number from {low} to {high}")
REMINDER = _t("reminder", "A gentle reminder – we'd love to hear from you:\n\n{question}")

# ------------------------------------------------------------------------------------- refusals, errors
GROUP_HINT = _t("group_hint", "Please message me privately to {what}.")
NOT_ALLOWED_STAFF = _t("not_allowed_staff", "Sorry, that command is for staff only.")
NOT_ALLOWED_MANAGERS = _t("not_allowed_managers", "Sorry, that command is for managers only.")
TEAM_ONLY_HERE = _t("team_only_here", "Results are shown only in a private chat with me or in the team chat.")
ERROR = _t("error", "Sorry, something went wrong on our side. Please try again in a moment.")
CANNOT_STORE = _t("cannot_store", "Sorry, I couldn't store that message. Please send it again in a different form.")

# ------------------------------------------------------------------------------------- /help and menus
# /help: this intro, then one line per command the caller may use (built from bot.commands).
HELP_INTRO = _t("help_intro", "I collect short feedback for the team behind this chat.")
HELP_STAFF = _t("help_staff", "Staff: {commands}")
HELP_MANAGERS = _t("help_managers", "Managers: {commands}")

HELP_START = _t("help_start", "subscribe to the occasional question")
MENU_START = _t("menu_start", "Subscribe to the occasional feedback question")
PURPOSE_START = _t("purpose_start", "subscribe")
HELP_STOP = _t("help_stop", "stop receiving questions")
MENU_STOP = _t("menu_stop", "Stop receiving questions")
PURPOSE_STOP = _t("purpose_stop", "unsubscribe")
HELP_PAUSE = _t("help_pause", "no questions for a few weeks")
MENU_PAUSE = _t("menu_pause", "No questions for a few weeks: /pause [weeks]")
PURPOSE_PAUSE = _t("purpose_pause", "pause your questions")
HELP_MYDATA = _t("help_mydata", "see everything stored about you")
MENU_MYDATA = _t("menu_mydata", "See everything stored about you")
PURPOSE_MYDATA = _t("purpose_mydata", "see your data")
HELP_FORGET = _t("help_forget", "erase everything stored about you")
MENU_FORGET = _t("menu_forget", "Erase everything stored about you")
PURPOSE_FORGET = _t("purpose_forget", "erase your data")
HELP_PRIVACY = _t("help_privacy", "what is stored and why")
MENU_PRIVACY = _t("menu_privacy", "What is stored about you and why")
HELP_HELP = _t("help_help", "this message")
MENU_HELP = _t("menu_help", "What this bot does")

# Descriptions of the typed options of Discord's slash commands (at most 100 characters).
OPTION_START_TAG = _t("option_start_tag", "A start code you were given (optional)")
OPTION_PAUSE_WEEKS = _t("option_pause_weeks", "For how many weeks (1-12; 4 when left out)")
OPTION_POLL_ID = _t("option_poll_id", "The poll to ask")
OPTION_POLL_TAG = _t("option_poll_tag", "Only customers with this tag (optional)")
OPTION_STATUS_RUN = _t("option_status_run", "Run number (the latest when left out)")
OPTION_DIGEST_LAST = _t("option_digest_last", "The last complete period instead of this one so far")
OPTION_DIGEST_PERIOD = _t("option_digest_period", "day, week or month (the configured period when left out)")

HELP_POLL = _t("help_poll", "ask now")
MENU_POLL = _t("menu_poll", "Ask a poll now: /poll POLL_ID [tag]")
HELP_POLLS = _t("help_polls", "polls and next times")
MENU_POLLS = _t("menu_polls", "Configured polls and their next times")
HELP_STATUS = _t("help_status", "progress")
MENU_STATUS = _t("menu_status", "Progress of a poll run: /status [RUN]")
HELP_DIGEST = _t("help_digest", "results against goals")
MENU_DIGEST = _t("menu_digest", "Results against goals: /digest [last] [day|week|month]")
HELP_GOALS = _t("help_goals", "goal status now")
MENU_GOALS = _t("menu_goals", "Goal status now")


@dataclass(frozen=True, slots=True)
class PluralText:
    """A text with a count in it: `one` for 1, `other` otherwise in English; languages choose their forms."""

    key: str
    one: str
    other: str

    @property
    def placeholders(self) -> frozenset[str]:
        return placeholders(self.one) | placeholders(self.other)


PLURAL_TEXTS: dict[str, PluralText] = {}


def _tn(key: str, one: str, other: str) -> PluralText:
    if key in TEXTS or key in PLURAL_TEXTS:
        raise ValueError(f"text {key!r} defined twice")
    PLURAL_TEXTS[key] = text = PluralText(key, one, other)
    return text


# ------------------------------------------------------------------------------------- staff
POLL_USAGE = _t("poll_usage", "Usage: /poll POLL_ID [tag]. Polls: {polls}")
NO_POLL_IDS = _t("no_poll_ids", "(none configured)")
UNKNOWN_POLL = _t("unknown_poll", "Unknown poll {poll}. {usage}")
INVALID_TAG = _t("invalid_tag", "Invalid tag {tag} (letters, digits, _ and - only). {usage}")
POLL_STARTED = _tn(
    "poll_started",
    "Poll {poll} started (run {run}): {count} customer will be asked. /status {run} shows progress.",
    "Poll {poll} started (run {run}): {count} customers will be asked. /status {run} shows progress.",
)
POLL_STARTED_TAGGED = _tn(
    "poll_started_tagged",
    "Poll {poll} started (run {run}): {count} customer tagged {tag} will be asked. /status {run} shows progress.",
    "Poll {poll} started (run {run}): {count} customers tagged {tag} will be asked. /status {run} shows progress.",
)
NO_POLLS = _t("no_polls", "No polls are configured.")
POLLS_HEADING = _t("polls_heading", "Polls:")
POLL_NEXT = _t("poll_next", "• {poll} – next {when} ({zone}; cron {schedule})")
POLL_NEVER = _t("poll_never", "never")
POLL_ON_DEMAND = _t("poll_on_demand", "• {poll} – on demand only (/poll {poll})")
STATUS_USAGE = _t("status_usage", "Usage: /status [RUN]")
NO_SUCH_RUN = _t("no_such_run", "No such run.")
NO_RUN_YET = _t("no_run_yet", "No poll has run yet.")
STATUS_RUN = _t(
    "status_run",
    "Run {run} – poll {poll}{tag}, started {started} UTC by {by}, {state} (closes {closes} UTC)",
)
STATUS_TAG = _t("status_tag", ", tag {tag}")
STATUS_OPEN = _t("status_open", "open")
STATUS_CLOSED = _t("status_closed", "closed")
STATUS_COUNTS = _t("status_counts", "Asked {asked} · delivered {sent} · waiting {pending} · failed {failed}")
STATUS_ANSWERS = _t(
    "status_answers", "Answered {answered} ({rate}) · rated {rated} · reminded {reminded} · late {late}"
)
STATUS_PAUSED = _t("status_paused", " · paused {paused}")
NOT_AVAILABLE = _t("not_available", "n/a")
DIGEST_USAGE = _t("digest_usage", "Usage: /digest [last] [day|week|month]")
NO_DIGESTS = _t("no_digests", "Digests are not available in this deployment.")
NO_GOALS = _t("no_goals", "No goals are configured ([[goals]] in the config file).")

# ------------------------------------------------------------------------------------- digests and goals
# Date patterns are CLDR patterns (EEE weekday, d day, MMM month, y year; text in '...'): each language
# writes its dates its own way, and Babel fills in the names.
DATE_DAY = _t("date_day", "EEE d MMM y")
DATE_DAY_NO_YEAR = _t("date_day_no_year", "EEE d MMM")
DATE_MONTH = _t("date_month", "MMMM y")
DATE_UNTIL = _t("date_until", "EEE d MMM HH:mm")
CHART_DAY = _t("chart_day", "EEE d")
PERIOD_WEEK = _t("period_week", "week {first} – {last}")
DIGEST_HEADING = _t("digest_heading", "Feedback digest – {period} ({zone}){poll}")
DIGEST_HEADING_DAY = _t("digest_heading_day", "Feedback digest – today so far ({period}, until {until} {zone}){poll}")
DIGEST_HEADING_WEEK = _t(
    "digest_heading_week", "Feedback digest – this week so far ({period}, until {until} {zone}){poll}"
)
DIGEST_HEADING_MONTH = _t(
    "digest_heading_month", "Feedback digest – this month so far ({period}, until {until} {zone}){poll}"
)
DIGEST_POLL = _t("digest_poll", " – poll {poll}")
# The counts line: "30 customers asked, 28 questions delivered, 25 answers – response rate 89%", or when
# customers were asked more than once "5 customers asked 10 questions, 10 delivered, 6 answers – ...".
CUSTOMERS_ASKED = _tn("customers_asked", "{count} customer asked", "{count} customers asked")
QUESTIONS_DELIVERED = _tn("questions_delivered", "{count} question delivered", "{count} questions delivered")
DELIVERED = _tn("delivered", "{count} delivered", "{count} delivered")
QUESTIONS = _tn("questions", "{count} question", "{count} questions")
ANSWERS = _tn("answers", "{count} answer", "{count} answers")
RATINGS = _tn("ratings", "{count} rating", "{count} ratings")
DIGEST_COUNTS = _t("digest_counts", "{asked}, {delivered}, {answers} – response rate {rate}")
DIGEST_COUNTS_REPEATED = _t(
    "digest_counts_repeated", "{asked} {questions}, {delivered}, {answers} – response rate {rate}"
)
AVERAGE_RATING = _t("average_rating", "Average rating {rating} / 5 ({ratings})")
NO_RATINGS = _t("no_ratings", "Average rating n/a (no ratings)")
NPS_LINE = _t("nps_line", "NPS {nps} ({ratings} on 0-10)")
GOALS_HEADING = _t("goals_heading", "Goals:")
NO_ANSWERS = _t("no_answers", "No answers in this period.")
NO_ANSWERS_YET = _t("no_answers_yet", "No answers in this period yet.")
LIKED_HEADING = _t("liked_heading", "What customers liked:")
FIX_HEADING = _t("fix_heading", "What to fix:")
FIX_NOTHING = _t("fix_nothing", "• nothing: no answer was rated low (1-3 of 5, 0-6 of 10)")
NO_THEME = _t("no_theme", "Other (no theme)")
ALSO_HEADING = _t("also_heading", "Also mentioned (answers that matched no theme):")
THEME_SAME = _t("theme_same", ", same as {versus}")
THEME_UP = _t("theme_up", ", up {change} on {versus}")
THEME_DOWN = _t("theme_down", ", down {change} on {versus}")
# What a period is compared with: a complete one, and one in progress (the same stretch of the one before).
VERSUS_DAY = _t("versus_day", "yesterday")
VERSUS_WEEK = _t("versus_week", "last week")
VERSUS_MONTH = _t("versus_month", "last month")
VERSUS_DAY_SO_FAR = _t("versus_day_so_far", "the same point yesterday")
VERSUS_WEEK_SO_FAR = _t("versus_week_so_far", "the same point last week")
VERSUS_MONTH_SO_FAR = _t("versus_month_so_far", "the same point last month")
MISSED_TWICE_DAY = _t(
    "missed_twice_day",
    "⚠️ WARNING: goal {goal} missed two days in a row ({before} the day before, {now} now; target {target})",
)
MISSED_TWICE_WEEK = _t(
    "missed_twice_week",
    "⚠️ WARNING: goal {goal} missed two weeks in a row ({before} the week before, {now} now; target {target})",
)
MISSED_TWICE_MONTH = _t(
    "missed_twice_month",
    "⚠️ WARNING: goal {goal} missed two months in a row ({before} the month before, {now} now; target {target})",
)
METRIC_RESPONSE_RATE = _t("metric_response_rate", "Response rate")
METRIC_AVERAGE_RATING = _t("metric_average_rating", "Average rating")
METRIC_ANSWERS = _t("metric_answers", "Answers")
METRIC_NPS = _t("metric_nps", "NPS")
GOAL_OF_POLL = _t("goal_of_poll", "{goal} (poll {poll})")
GOAL_LINE = _t("goal_line", "{mark} {goal} {value} – target {target} – {status}")
GOAL_MET = _t("goal_met", "met")
GOAL_MISSED = _t("goal_missed", "missed")
GOAL_NO_DATA = _t("goal_no_data", "no data yet")
CHANGE_NONE = _t("change_none", "nothing to compare with {versus}")
CHANGE_SAME = _t("change_same", "same as {versus}")
CHANGE_UP = _t("change_up", "up {change} on {versus}")
CHANGE_DOWN = _t("change_down", "down {change} on {versus}")
POINTS = _tn("points", "{count} point", "{count} points")
GOALS_SO_FAR_DAY = _t("goals_so_far_day", "Goals – today so far (since {since} 00:00, {zone}):")
GOALS_SO_FAR_WEEK = _t("goals_so_far_week", "Goals – this week so far (since {since} 00:00, {zone}):")
GOALS_SO_FAR_MONTH = _t("goals_so_far_month", "Goals – this month so far (since {since} 00:00, {zone}):")
CHART_TITLE = _t("chart_title", "Feedback – {period}")
CHART_TITLE_SO_FAR = _t("chart_title_so_far", "So far – {period}")
CHART_ANSWERS = _t("chart_answers", "Answers")
CHART_RATING = _t("chart_rating", "Avg rating")
CHART_RATE = _t("chart_rate", "Response rate")
CHART_RATE_AXIS = _t("chart_rate_axis", "Response %")
CHART_GOAL = _t("chart_goal", "Goal {goal}")
CHART_EMPTY = _t("chart_empty", "no answers yet")
CHART_LATER = _t("chart_later", "later")

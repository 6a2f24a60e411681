"""What the bot says. Plain text: adapters escape it for their platform's formatting."""

from __future__ import annotations

MAX_ANSWER_CHARS = 4096

# /help: this intro, then one line per command the caller may use (built from bot.commands).
HELP_INTRO = "I collect short feedback for the team behind this chat.\n\n"


def welcome(name: str, scales: frozenset[int]) -> str:
    """`scales`: the rating scales of the polls that ask for a rating (5: 1-5, 10: 0-10); empty: none."""
    if scales == {5}:
        rate = " and, if you like, rate it from 1 to 5"
    elif scales == {10}:
        rate = " and, if you like, rate it from 0 to 10"
    elif scales:
        rate = " and, if you like, give it a rating"
    else:
        rate = ""
    hello = f"Hi {name}! " if name else "Hi! "
    return (
        f"{hello}You're subscribed. Now and then I'll ask one short question, such as "
        f'"What was your favourite part?" – just reply in your own words{rate}.\n'
        "Send /stop at any time to stop, /mydata to see what is stored about you, "
        "and /forget to erase it."
    )


PAUSED = "Paused: no questions until {until:%a %d %b %Y}. Send /start to resume earlier, /stop to end them."
PAUSE_USAGE = "Usage: /pause [weeks] – from 1 to 12 weeks (4 if you leave it out)."
RESUMED = "Welcome back – your questions resume now."
BAD_TAG = "That start code isn't valid, so I subscribed you without it."
STOPPED = (
    "Done – you won't get any more questions. Send /start to subscribe again.\n"
    "Your earlier answers are kept; /forget erases them."
)
NOT_SUBSCRIBED = "You're not subscribed. Send /start to receive the occasional question."
NO_DATA = "Nothing is stored about you."
MYDATA_INTRO = "Everything stored about you (JSON):"
FORGET_CONFIRM = "This erases your subscription and all your answers, for good. Are you sure?"
FORGET_DONE = "Done. Everything stored about you has been erased. Send /start if you ever want to come back."
FORGET_CANCELLED = "Nothing was erased."
FORGET_EXPIRED = "That confirmation has expired. Send /forget again if you want to erase your data."
ASK_IN_WORDS = "Thanks! I can only read text – please answer in words."
OWN_WORDS = "That's a forwarded message – please answer in your own words."
TOO_LONG = "Sorry, that's too long: {length:,} characters, and the limit is {limit:,}. Please shorten it."
NO_OPEN_QUESTION = "Thanks for your message! There's no open question right now. Send /help to see what I can do."
THANKS = "Thank you for your answer!"
THANKS_LATE = "Thank you! This question had already closed, but your answer is kept and marked as late."
ASK_RATING = "Thanks! How would you rate it, from {low} to {high}?"
RATING_THANKS = "Thank you – rating saved."
ASK_WORDS = "Thanks – your rating of {rating} is saved. What's the main reason? A few words help us most."
RATING_AGAIN = "Please choose a number from {low} to {high}."
RATING_ALREADY = "Your rating was already saved – thank you."
GROUP_HINT = "Please message me privately to {what}."
NOT_ALLOWED = "Sorry, that command is for {role} only."
TEAM_ONLY_HERE = "Results are shown only in a private chat with me or in the team chat."
ERROR = "Sorry, something went wrong on our side. Please try again in a moment."
CANNOT_STORE = "Sorry, I couldn't store that message. Please send it again in a different form."


def privacy(url: str | None) -> str:
    policy = f"\nThe full privacy policy: {url}" if url else ""
    return (
        "What is stored about you: your chat id and user id on this platform, your display name and "
        "language, the start code you subscribed with, which questions were sent to you, and your "
        "answers and ratings.\n"
        "Why: so the team running this bot can learn what customers liked and whether it meets its "
        "goals. Only people who subscribed are asked.\n"
        "How long: until you send /forget, which erases all of it at once. /stop ends the questions, "
        "/mydata shows everything stored, as JSON." + policy
    )


def reminder(text: str) -> str:
    return f"A gentle reminder – we'd love to hear from you:\n\n{text}"

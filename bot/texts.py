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
TOO_LONG = "Sorry, that's too long: {length:,} characters, and the limit is {limit:,}. Please shorten it."
NO_OPEN_QUESTION = "Thanks for your message! There's no open question right now. Send /help to see what I can do."
THANKS = "Thank you for your answer!"
ANONYMOUS_NOTE = "(Anonymous: your answer is stored without your name or id, and nobody can tell it was yours.)"
ANONYMOUS_CLOSED = "Thank you! This anonymous question has closed, so I can no longer take answers to it."
THANKS_LATE = "Thank you! This question had already closed, but your answer is kept and marked as late."
ASK_RATING = "Thanks! How would you rate it, from {low} to {high}?"
RATING_THANKS = "Thank you – rating saved."
RATING_AGAIN = "Please choose a number from {low} to {high}."
RATING_ALREADY = "Your rating was already saved – thank you."
GROUP_HINT = "Please message me privately to {what}."
NOT_ALLOWED = "Sorry, that command is for {role} only."
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


# ------------------------------------------------------------------ closing the loop (staff <-> customer)
FOLLOW_UP_THANKS = "Thank you – I've passed your message on to the team."
REPLY_USAGE = "Usage: /reply ANSWER_ID your message (or reply to an alert with your message)."
REPLY_NO_ANSWER = "No answer {answer_id} (it may have been erased)."
REPLY_ANONYMOUS = "Answer {answer_id} is anonymous: nobody can be told who wrote it, so it cannot be answered."
REPLY_TOO_LONG = "That reply is too long: {length:,} characters, and the limit is {limit:,}."


def staff_alert(name: str, rating: int, scale: int, poll: str, answer_id: int, quote: str) -> str:
    """`name` and `quote` are folded to one line by the caller: customer text cannot add lines here."""
    who = name or "A customer"
    return (
        f"⚠️ Unhappy customer: {who} rated {rating}/{scale} (poll {poll}, answer {answer_id})\n"
        f'"{quote}"\n'
        f"Answer them: reply to this message, or send /reply {answer_id} your message."
    )


def staff_alert_anonymous(rating: int, scale: int, poll: str, answer_id: int, quote: str) -> str:
    return (
        f"⚠️ Unhappy customer (anonymous poll {poll}, answer {answer_id}): rated {rating}/{scale}\n"
        f'"{quote}"\n'
        "The poll is anonymous: nobody knows who wrote this, so it cannot be answered."
    )


def followup_forward(name: str, answer_id: int, quote: str) -> str:
    who = name or "The customer"
    return (
        f"💬 {who} replied (answer {answer_id}):\n"
        f'"{quote}"\n'
        f"Reply to this message, or send /reply {answer_id} your message."
    )


def staff_reply(business: str, quote: str, text: str) -> str:
    return (
        f'A message from {business} about your feedback ("{quote}"):\n\n{text}\n\n'
        "You can answer here within 48 hours; your next message goes to them."
    )


def reply_sent(name: str, answer_id: int) -> str:
    who = name or "the customer"
    return f"Sent to {who} (answer {answer_id}). Their next message within 48 hours will be posted here."

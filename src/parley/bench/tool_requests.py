"""The labelled requests tool choice is measured on: what a user says, and the tool it should
call, or none.

The router never sees these: its own examples and thresholds are written apart from this set
(``tests/unit/test_tool_requests.py`` checks that none of them is copied here), so the
accuracy measured on it is what a user meets, not what the router was fitted to.

A label names every tool that answers the request right: "What time is it in Tokyo?" is
answered by Parley's own clock with a time zone as well as by mcp-server-time.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOCK = frozenset({"current_date_and_time", "get_current_time"})
CONVERT = frozenset({"convert_time"})
RECALL = frozenset({"search_memory"})
REMEMBER = frozenset({"remember"})
GOODBYE = frozenset({"end_conversation"})
SET_TIMER = frozenset({"set_timer"})
SET_REMINDER = frozenset({"set_reminder"})
TIMERS_LEFT = frozenset({"timers_left"})
CANCEL_TIMER = frozenset({"cancel_timer"})


@dataclass(frozen=True, slots=True)
class LabelledRequest:
    words: str
    # The tools that answer it right; empty: no tool should be called.
    tools: frozenset[str]
    kind: str


def _kind(kind: str, tools: frozenset[str], *requests: str) -> list[LabelledRequest]:
    return [LabelledRequest(words, tools, kind) for words in requests]


NO_TOOL: frozenset[str] = frozenset()

LABELLED_REQUESTS: tuple[LabelledRequest, ...] = tuple(
    _kind(
        "clock",
        CLOCK,
        "What time is it?",
        "What's the time?",
        "Do you know what time it is?",
        "What day is it today?",
        "What is today's date?",
        "What's the date today?",
        "Which day of the week is it?",
        "Is it Monday today?",
        "What month are we in?",
        "What year is it?",
        "Can you tell me the time please?",
        "how late is it",
        "Tell me the current time.",
        "Hey, what's the date",
        "What's today?",
    )
    + _kind(
        "time zone",
        CLOCK,
        "What time is it in Tokyo?",
        "What's the time in New York right now?",
        "What time is it in London at the moment?",
        "Is it night in Sydney right now?",
        "What's the current time in Berlin?",
        "Tell me the time in Los Angeles.",
        "What day is it in Auckland?",
        "How late is it in Paris now?",
        "What's the local time in Chicago?",
        "What time is it over in Singapore?",
    )
    + _kind(
        "conversion",
        CONVERT,
        "If it is 9 am in London, what time is it in Sydney?",
        "Convert three pm Paris time to Los Angeles time.",
        "When it's noon in New York, what time is it in Tokyo?",
        "What is 8 in the evening Berlin time in Chicago time?",
        "Convert 10 am Tokyo time to London time.",
    )
    + _kind(
        "recall",
        RECALL,
        "What do you remember about me?",
        "Do you know my name?",
        "Do you remember my name?",
        "What's my name?",
        "What is my favourite colour?",
        "Where do I live?",
        "What did I tell you about my sister?",
        "Do you remember what my dog is called?",
        "What do you know about me?",
        "What's my wife's name again?",
        "Which food did I say I hate?",
        "What is my job?",
        "Have I told you my birthday?",
    )
    + _kind(
        "remember",
        REMEMBER,
        "Remember that my sister is called Ana.",
        "Please remember that I'm allergic to peanuts.",
        "My favourite colour is green, remember that.",
        "Keep in mind that I work night shifts.",
        "Note that my daughter's birthday is on the third of May.",
        "Remember my car is a blue Toyota.",
        "Don't forget that I'm vegetarian.",
        "I want you to remember that my dog is called Rex.",
        "Save this: my locker code is four two one seven.",
        "Make a note that I prefer tea over coffee.",
        "For the future, I live in Lisbon.",
        "Remember I'm learning Spanish.",
    )
    + _kind(
        "goodbye",
        GOODBYE,
        "Goodbye.",
        "Bye!",
        "Goodbye, that's all for now.",
        "Please stop talking, we are done.",
        "Goodbye, talk to you later.",
        "That's all for today, thanks, bye.",
        "OK, I'm done, see you later.",
        "Thanks, that's everything, bye bye.",
        "Good night, talk tomorrow.",
        "We're finished here, goodbye.",
        "See you.",
        "That will be all, goodbye.",
    )
    + _kind(
        "timer",
        SET_TIMER,
        "Set a timer for eight minutes.",
        "Can you start a timer for 25 minutes?",
        "I need a five minute timer for the tea.",
        "Timer, 45 seconds please.",
        "Set a cookie timer for twelve minutes.",
    )
    + _kind(
        "reminder",
        SET_REMINDER,
        "Remind me to take the bins out at 7 pm.",
        "Set an alarm for six in the morning.",
        "Remind me in 15 minutes to move the car.",
        "Could you remind me to call the plumber tomorrow?",
        "Wake me at 7 tomorrow.",
    )
    + _kind(
        "timer left",
        TIMERS_LEFT,
        "How much longer on the tea timer?",
        "How many minutes are left?",
        "What's left on the timer?",
    )
    + _kind(
        "cancel timer",
        CANCEL_TIMER,
        "Cancel my timer.",
        "Stop the cookie timer.",
        "Forget the reminder about the bins.",
    )
    + _kind(
        "contains a tool's word",
        NO_TOOL,
        "How does a kitchen timer work?",
        "Who invented the alarm clock?",
        "Why do old timers tick so loudly?",
        "Stop. Actually, tell me about the moon instead.",
        "Say goodbye in French.",
        "How do you say goodbye in Japanese?",
        "Write a short poem about saying goodbye.",
        "What rhymes with goodbye?",
        "How do I stop my dog from barking?",
        "Where does the number 12 bus stop?",
        "Stop, tell me a joke instead.",
        "Why do people find it hard to stop smoking?",
        "Tell me about the time Napoleon invaded Russia.",
        "How much time does it take to boil an egg?",
        "Is time travel possible?",
        "What is the best time of year to visit Japan?",
        "Who wrote the song Time After Time?",
        "How long does light take to reach the Earth from the Sun?",
        "Remember the Alamo: what happened there?",
        "How can I remember names better?",
        "What's a good trick to remember the planets?",
        "Why do we remember some dreams and not others?",
        "You remind me of a friend of mine.",
        "What does the smell of rain remind people of?",
        "Who sang Don't Stop Believin'?",
        "What is a time zone?",
        "How do computers keep time?",
        "Explain what memory is in a computer.",
        "What is the date of the French national holiday?",
        "Which year did the Berlin Wall fall?",
        "Why is there a leap year?",
        "What's the capital of Japan?",
        "How do I say good night in Spanish?",
    )
    + _kind(
        "general",
        NO_TOOL,
        "What is the capital of France?",
        "Tell me a joke.",
        "How many legs does a spider have?",
        "Who wrote Romeo and Juliet?",
        "What is two plus three?",
        "Can you suggest something for dinner?",
        "Explain how rainbows form.",
        "What is the largest planet?",
        "Can you explain what a black hole is in one sentence?",
        "Tell me about the moon.",
        "Hello, how are you?",
        "Thanks, that was helpful.",
        "Give me a fun fact about octopuses.",
        "How do I boil pasta?",
        "What should I name my cat?",
    )
)

# Written before the router's examples were, and never looked at while they were tuned: the
# measure of how the router does on words nobody fitted it to.
HELD_OUT_REQUESTS: tuple[LabelledRequest, ...] = tuple(
    _kind(
        "clock",
        CLOCK,
        "Could you check the time for me?",
        "what's the clock say",
        "Is it already Friday?",
        "What date is it?",
        "Tell me today's date please.",
        "Hi Parley, what time have we got?",
    )
    + _kind(
        "time zone",
        CLOCK,
        "What time is it for my friend in Toronto?",
        "Is it morning yet in Dubai?",
        "Current time in Madrid, please.",
        "What's the hour in Moscow?",
    )
    + _kind(
        "conversion",
        CONVERT,
        "If it's 6 pm in Sydney, what time is that in Berlin?",
        "What's 7 am Chicago time in Paris?",
    )
    + _kind(
        "recall",
        RECALL,
        "Remind me, what's my brother called?",
        "Do you recall where I work?",
        "What's my favourite food?",
        "What did I say my cat's name was?",
        "Tell me what you know about my family.",
    )
    + _kind(
        "remember",
        REMEMBER,
        "Please remember that my brother is called Tom.",
        "Remember that I don't drink milk.",
        "Keep in mind my son plays football on Saturdays.",
        "Note down that my favourite band is Queen.",
        "I'd like you to remember that I'm left handed.",
    )
    + _kind(
        "goodbye",
        GOODBYE,
        "Alright, bye for now.",
        "Thanks for your help, goodbye!",
        "That's it from me, see you.",
        "I'm going to go now, bye.",
        "Cheers, talk soon.",
    )
    + _kind("timer", SET_TIMER, "Put on a timer for 3 minutes.")
    + _kind("reminder", SET_REMINDER, "Remind me at noon to eat lunch.")
    + _kind("timer left", TIMERS_LEFT, "How long until my timer rings?")
    + _kind("cancel timer", CANCEL_TIMER, "Cancel the alarm.")
    + _kind(
        "contains a tool's word",
        NO_TOOL,
        "What time should I set my alarm to get eight hours of sleep?",
        "Stop, what's the tallest mountain instead?",
        "Teach me to say goodbye in Italian.",
        "Why do kids hate bedtime?",
        "What time period were dinosaurs alive?",
        "How do I stop a nosebleed?",
        "Is it hard to remember a language you learned as a child?",
        "That song reminds me of summer.",
        "Why do goodbyes feel sad?",
        "What is the time complexity of quicksort?",
        "How can I improve my memory?",
    )
    + _kind(
        "general",
        NO_TOOL,
        "What's the boiling point of water?",
        "Recommend a good book.",
        "How far is the moon?",
        "Why is the sky blue?",
        "Can you help me plan a birthday party?",
    )
)

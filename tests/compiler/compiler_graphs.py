"""Small workflows for the compiler's tests (format v1 dicts)."""

from __future__ import annotations

SYSTEM = (
    "You are a careful security analyst. Read the alert, think about the indicators it "
    "contains, and answer with the single word the instructions ask for. Never invent facts."
)

TRIAGE = {
    "flowc": 1,
    "name": "triage",
    "inputs": {"alert": {"type": "string", "default": "Failed SSH logins from 10.0.0.7"}},
    "defaults": {"max_tokens": 64},
    "nodes": [
        {"id": "classify", "type": "llm", "output": "label",
         "choices": ["benign", "suspicious", "malicious"],
         "messages": [{"role": "system", "content": SYSTEM},
                      {"role": "user", "content": "Alert:\n{{ alert }}\nLabel it."}]},
        {"id": "explain", "type": "llm", "output": "why",
         "messages": [{"role": "system", "content": SYSTEM},
                      {"role": "user", "content": "Alert:\n{{ alert }}\nExplain the risk."}]},
        {"id": "escalate", "type": "llm", "output": "ticket",
         "prompt": "Write an escalation ticket for this incident, with a title, the affected "
                   "hosts and the next steps.\n{{ alert }}\n{{ why }}"},
        {"id": "close", "type": "set", "assign": {"closed": "'closed: ' ~ label"}},
    ],
    "edges": [
        {"from": "classify", "to": "escalate", "when": "label != 'benign'"},
        {"from": "classify", "to": "close", "when": "else"},
        {"from": "explain", "to": "escalate"},
    ],
    "outputs": {"label": "{{ label }}"},
}

THOUGHTS = {
    "flowc": 1,
    "name": "thoughts",
    "inputs": {"problem": {"type": "string", "default": "How many primes are below 30?"}},
    "nodes": [
        *[
            {"id": f"think{i}", "type": "llm", "output": f"t{i}", "temperature": 0.8,
             "max_tokens": 128,
             "messages": [{"role": "system", "content": SYSTEM},
                          {"role": "user", "content": "Problem: {{ problem }}\nThink step by "
                           f"step, approach number {i}."}]}
            for i in range(4)
        ],
        {"id": "judge", "type": "select", "output": "best", "choices": ["0", "1", "2", "3"],
         "prompt": "Problem: {{ problem }}\n{{ t0 }}\n{{ t1 }}\n{{ t2 }}\n{{ t3 }}\nBest?"},
    ],
    "edges": [{"from": f"think{i}", "to": "judge"} for i in range(4)],
    "outputs": {"best": "{{ best }}"},
}

SUMMARY = {
    "flowc": 1,
    "name": "summary",
    "inputs": {"chunks": {"type": "array", "default": ["alpha text", "beta text", "gamma"]}},
    "nodes": [
        {"id": "per_chunk", "type": "map", "over": "chunks", "as": "chunk", "output": "notes",
         "body": {"nodes": [
             {"id": "summarize", "type": "llm", "output": "note", "max_tokens": 64,
              "prompt": "{{ chunk }}\n\nSummarize the text above in three short bullet points, "
                        "keeping every number and every name exactly as written."}],
             "result": "{{ note }}"}},
        {"id": "combine", "type": "llm", "output": "summary", "max_tokens": 128,
         "prompt": "Combine these notes into one summary:\n{{ notes }}"},
    ],
    "edges": [{"from": "per_chunk", "to": "combine"}],
    "outputs": {"summary": "{{ summary }}"},
}

DEBATE = {
    "flowc": 1,
    "name": "debate",
    "inputs": {"topic": {"type": "string", "default": "Tabs or spaces?"}},
    "defaults": {"max_tokens": 48},
    "nodes": [
        {"id": "open", "type": "llm", "output": "a1", "thread": "pro",
         "messages": [{"role": "system", "content": "You argue for the motion. " + SYSTEM},
                      {"role": "user", "content": "Motion: {{ topic }}. Open the debate."}]},
        {"id": "reply", "type": "llm", "output": "b1",
         "prompt": "Motion: {{ topic }}. Rebut: {{ a1 }}"},
        {"id": "close_pro", "type": "llm", "output": "a2", "thread": "pro",
         "prompt": "Your opponent said: {{ b1 }}. Close your case."},
    ],
    "edges": [{"from": "open", "to": "reply"}, {"from": "reply", "to": "close_pro"}],
    "outputs": {"final": "{{ a2 }}"},
}

AGENT = {
    "flowc": 1,
    "name": "agent",
    "inputs": {"question": {"type": "string", "default": "What is 17 * 23?"}},
    "state": {"observations": {"reducer": "append", "default": []}},
    "limits": {"max_node_visits": 6},
    "nodes": [
        {"id": "start", "type": "set", "assign": {"budget": "3"}},
        {"id": "think", "type": "llm", "output": "action", "max_tokens": 32, "thread": "agent",
         "regex": "(calc|answer): .*",
         "prompt": "Question: {{ question }}\nObservations: {{ observations }}\nNext action?"},
        {"id": "act", "type": "tool", "tool": "calculator", "output": "observations",
         "args": {"expression": "{{ action }}"}},
        {"id": "answer", "type": "llm", "output": "final", "max_tokens": 32,
         "prompt": "Question: {{ question }}\nGive the final answer: {{ action }}"},
    ],
    "edges": [
        {"from": "think", "to": "act", "when": "action.startswith('calc')"},
        {"from": "think", "to": "answer", "when": "else"},
        {"from": "start", "to": "think"},
        {"from": "act", "to": "think"},
    ],
    "outputs": {"final": "{{ final }}"},
}

REFINE = {
    "flowc": 1,
    "name": "refine",
    "inputs": {"task": {"type": "string", "default": "Write a haiku about autumn."},
               "drafts": {"type": "array", "default": ["first", "second"]}},
    "defaults": {"max_tokens": 24},
    "limits": {"max_node_visits": 4},
    "nodes": [
        {"id": "draft", "type": "llm", "output": "text", "thread": "writer",
         "prompt": "{{ task }}"},
        {"id": "judge", "type": "llm", "output": "verdict", "choices": ["good", "redo"],
         "prompt": "Is this good? {{ text }}"},
        {"id": "revise", "type": "llm", "output": "text", "thread": "writer",
         "prompt": "Improve it."},
        {"id": "polish", "type": "map", "over": "drafts", "as": "d", "output": "notes",
         "body": {"nodes": [
             {"id": "note", "type": "llm", "output": "note", "prompt": "Note on {{ d }}"},
             {"id": "stop", "type": "set", "assign": {"kept": "note"}}],
                  "edges": [{"from": "note", "to": "done", "when": "note == ''"},
                            {"from": "note", "to": "stop", "when": "else"}],
                  "result": "{{ note }}"}},
    ],
    "edges": [
        {"from": "draft", "to": "judge"},
        {"from": "judge", "to": "polish", "when": "verdict == 'good'"},
        {"from": "judge", "to": "revise", "when": "else"},
        {"from": "revise", "to": "judge"},
        {"from": "polish", "to": "done"},
    ],
    "outputs": {"text": "{{ text }}"},
}

ALL = {
    "triage": TRIAGE,
    "thoughts": THOUGHTS,
    "summary": SUMMARY,
    "debate": DEBATE,
    "agent": AGENT,
    "refine": REFINE,
}

"""A resumable job: send a newsletter to 10,000 subscribers, checkpointing after every batch.

Kill the worker with `kill -9` mid-way and start it again: the job is rescued
once its lease runs out and resumes at its last checkpoint, so no subscriber is
skipped and at most one batch is sent twice.

    python examples/newsletter.py                       # enqueue; prints the job id
    errands worker --app examples.newsletter:app        # send (kill -9 it, start it again)
    errands watch <id>
"""

from __future__ import annotations

import time

from errands import Errands, JobContext

app = Errands()


def send_batch(outbox: str, issue: str, subscribers: range) -> None:
    """Stands in for an SMTP or email-API call: one line per message, one write per batch."""
    with open(outbox, "a") as f:
        f.writelines(f"{issue} -> subscriber-{n}\n" for n in subscribers)


@app.task(lease=5, max_worker_losses=10)
def send_newsletter(ctx: JobContext, issue: str, subscribers: int = 10_000, batch: int = 500,
                    outbox: str = "outbox.txt", pause: float = 0.2) -> dict[str, int]:
    sent = (ctx.checkpoint or {}).get("sent", 0)
    if sent:
        ctx.log(f"resuming after {sent:,} subscribers")
    while sent < subscribers:
        upto = min(sent + batch, subscribers)
        send_batch(outbox, issue, range(sent, upto))
        time.sleep(pause)  # the mail server's pace
        sent = upto
        ctx.save_checkpoint({"sent": sent})  # durable before the next batch starts
        ctx.progress(sent, subscribers, f"sent to {sent:,} subscribers")
    return {"sent": sent}


if __name__ == "__main__":
    print(send_newsletter.enqueue(issue="November").id)

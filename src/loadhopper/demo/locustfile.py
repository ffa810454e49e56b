# locustfile.py: the cats demo, the seed article's locustfile made robust.
# It runs unchanged under loadhopper and under Locust itself, against `loadhopper cats`:
#   loadhopper -f locustfile.py --headless -u 20 -r 20 -t 30s
#   locust -f locustfile.py --headless -u 20 -r 20 -t 30s
# What changed from the article, and why:
#   - create checks its answer, and update and delete run only when create gave an id, so
#     that one failed request is counted once instead of causing two more;
#   - update and delete are named "/[id]/update" and "/[id]/delete", so that every cat's
#     requests add up in one row of statistics instead of one row per id.

# Imports for generating content
from random import randint, shuffle
from string import ascii_letters

# Import Locust basics
from locust import HttpUser, SequentialTaskSet, between, task


def namer() -> str:
    "Create a random string of 10 letters"
    ascii_list = list(ascii_letters)
    shuffle(ascii_list)
    return "".join(ascii_list[:10])


class TaskSet(SequentialTaskSet):
    """
    A class for organizing tasks, inheriting from
    SequentialTaskSet means the tasks happen in order.
    """

    # The id of the cat this user created, or None when create failed.
    pk: str | None = None

    @task
    def index(self) -> None:
        # User goes to the root of the project
        self.client.get("/")

    @task
    def create(self) -> None:
        # User posts a create form with the fields 'name' and 'age';
        # the site answers with the new cat's id as text.
        form_data = dict(name=namer(), age=randint(1, 35))
        with self.client.post("/create", form_data, catch_response=True) as resp:
            if resp.status_code == 200 and resp.text.isdigit():
                self.pk = resp.text
            else:
                self.pk = None
                resp.failure(f"create answered {resp.status_code}, not a cat id")

    @task
    def update(self) -> None:
        # User posts an update form with the fields 'name' and 'age';
        # the site redirects to the cat's page.
        if self.pk is None:
            return
        form_data = dict(name=namer(), age=randint(1, 35))
        self.client.post(f"/{self.pk}/update", form_data, name="/[id]/update")

    @task
    def delete(self) -> None:
        # User deletes the cat; the site redirects to the list.
        if self.pk is None:
            return
        self.client.get(f"/{self.pk}/delete", name="/[id]/delete")
        self.pk = None


class CatsiteUser(HttpUser):
    """
    This class represents simulated users interacting with
    a website.
    """

    # What tasks should be done (a plain list: Locust's own idiom, hence the noqa)
    tasks = [TaskSet]  # noqa: RUF012
    # how long between clicks a user should take
    wait_time = between(2, 5)
    # Where `loadhopper cats` listens by default. 127.0.0.1 rather than the article's
    # localhost, which may resolve to ::1 first while the site listens on IPv4 only.
    host = "http://127.0.0.1:5001"

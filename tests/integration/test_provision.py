"""site.yml provisions the VM, and a second run changes nothing."""

HOST = "avm-test"


def test_first_run_succeeds(provision):
    run = provision["first"]
    assert run.returncode == 0, f"site.yml failed, see {run.log}\n{run.output[-4000:]}"
    recap = run.recap.get(HOST)
    assert recap, f"no recap line for {HOST} in {run.log}"
    assert recap["failed"] == 0 and recap["unreachable"] == 0, recap
    # the first run did the work (a run that changed nothing provisioned nothing)
    assert recap["changed"] > 0, recap


def test_second_run_changes_nothing(provision):
    run = provision["second"]
    assert run.returncode == 0, f"second site.yml run failed, see {run.log}\n{run.output[-4000:]}"
    recap = run.recap.get(HOST)
    assert recap, f"no recap line for {HOST} in {run.log}"
    print(f"second run recap: {recap} ({run.seconds:.1f} s)")
    assert recap["changed"] == 0, f"changed on the second run:\n{run.changed_tasks()}"
    assert recap["failed"] == 0 and recap["unreachable"] == 0, recap

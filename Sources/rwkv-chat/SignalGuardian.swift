import Dispatch
import Foundation

/// Turns Ctrl-C, SIGTERM and SIGHUP into safe actions for a command loop.
///
/// Signals are received on a Dispatch queue, never in an async signal handler, so
/// the reaction can take locks and write files. While a command runs, Ctrl-C only
/// asks it to cancel (the generation loop checks between tokens). Termination waits
/// for the running command to stop, saves, and exits, so the session file is never
/// written while the session changes.
final class SignalGuardian: @unchecked Sendable {
    private let lock = NSLock()
    private let busy = NSLock()
    private var cancel = false
    private var terminating = false
    private var sources: [DispatchSourceSignal] = []

    /// True once Ctrl-C (or termination) asked the running command to stop.
    var cancelRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancel
    }

    /// Call before running a command.
    func beginCommand() {
        busy.lock()
        lock.lock()
        if terminating {
            // The signal queue is saving and about to exit; start nothing new.
            lock.unlock()
            busy.unlock()
            while true { sleep(60) }
        }
        cancel = false
        lock.unlock()
    }

    /// Call after a command finished.
    func endCommand() { busy.unlock() }

    /// Installs the handlers; `onTerminate` runs (with no command running) before the process exits.
    func install(onTerminate: @escaping () -> Void) {
        let queue = DispatchQueue(label: "rwkv-chat.signals")
        // A parent may start us with these signals blocked (or ignored, which we
        // replace): unblock them so the Dispatch sources below can see them.
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for (sig, code) in [(SIGINT, Int32(130)), (SIGTERM, 143), (SIGHUP, 129)] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                self.cancel = true
                if sig != SIGINT { self.terminating = true }
                self.lock.unlock()
                // Ctrl-C while a command runs only cancels it; otherwise (and for SIGTERM/SIGHUP) save and exit.
                if sig == SIGINT {
                    guard self.busy.try() else { return }
                    self.lock.lock()
                    self.terminating = true
                    self.lock.unlock()
                } else {
                    self.busy.lock()
                }
                onTerminate()
                exit(code)
            }
            source.resume()
            sources.append(source)
        }
    }
}

import XCTest

@testable import Kernels

/// The persistent pool: every index exactly once, many jobs in a row, and clean shutdown.
final class ThreadPoolTests: XCTestCase {
    func testEveryIndexRunsExactlyOnceAcrossManyJobs() {
        for threads in [1, 2, 3, 5] {
            let pool = ThreadPool(threadCount: threads)
            XCTAssertEqual(pool.threadCount, threads)
            // Thousands of short jobs back to back exercise the spin/sleep hand-off.
            for job in 0..<2_000 {
                let count = 1 + job % 37
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                pool.forEachBlock(count: count) { range in
                    for i in range { hits[i] += 1 }
                }
                for i in 0..<count where hits[i] != 1 {
                    XCTFail("\(threads) threads, job \(job): index \(i) ran \(hits[i]) times")
                }
                hits.deallocate()
            }
        }
    }

    func testWorkersWakeAfterSleeping() {
        let pool = ThreadPool(threadCount: 2)
        // Longer than the spin phase, so the worker is asleep on the condition variable.
        usleep(50_000)
        var parts = [Int](repeating: 0, count: 2)
        parts.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            pool.forEachBlock(count: 2) { range in
                for i in range { base[i] = i + 1 }
            }
        }
        XCTAssertEqual(parts, [1, 2])
    }

    func testPoolsComeAndGo() {
        for _ in 0..<50 {
            let pool = ThreadPool(threadCount: 3)
            var sum = 0
            let lock = NSLock()
            pool.forEachBlock(count: 30) { range in
                lock.lock()
                sum += range.count
                lock.unlock()
            }
            XCTAssertEqual(sum, 30)
        }
    }

    /// Two threads sharing one pool, and a job started from inside a job: every index
    /// still runs exactly once and nothing deadlocks.
    func testConcurrentAndNestedCallersAreSafe() {
        let pool = ThreadPool(threadCount: 2)
        let group = DispatchGroup()
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        failures.initialize(repeating: 0, count: 2)
        // The address crosses into the threads as an integer (a raw pointer is not Sendable).
        let failuresAddress = UInt(bitPattern: failures)
        for caller in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                let failures = UnsafeMutablePointer<Int>(bitPattern: failuresAddress)!
                for _ in 0..<500 {
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: 64)
                    hits.initialize(repeating: 0, count: 64)
                    pool.forEachBlock(count: 64) { range in
                        for i in range { hits[i] += 1 }
                    }
                    for i in 0..<64 where hits[i] != 1 { failures[caller] += 1 }
                    hits.deallocate()
                }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(failures[0] + failures[1], 0)
        failures.deallocate()

        var inner = [Int](repeating: 0, count: 8)
        inner.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            pool.forEachBlock(count: 2) { outer in
                for o in outer {
                    pool.forEachBlock(count: 4) { range in
                        for i in range { base[o * 4 + i] += 1 }
                    }
                }
            }
        }
        XCTAssertEqual(inner, [Int](repeating: 1, count: 8))
    }
}

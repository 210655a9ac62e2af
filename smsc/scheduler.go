package smsc

import (
	"sync"
	"time"
)

// job is something the scheduler runs when it is due. Runs must be quick and never block:
// they hand work on (to a delivery queue, to a session's write buffer).
type job interface{ run() }

type schedItem struct {
	at  int64 // nanoseconds since the scheduler's epoch
	seq uint64
	j   job
}

// scheduler runs jobs at their due time: one goroutine and a min-heap, so that twenty
// thousand receipts a second cost twenty thousand heap operations, not twenty thousand
// timers and goroutines.
type scheduler struct {
	epoch time.Time

	mu   sync.Mutex
	heap []schedItem
	seq  uint64

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newScheduler() *scheduler {
	s := &scheduler{epoch: time.Now(), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *scheduler) now() int64 { return int64(time.Since(s.epoch)) }

// after runs j after d; at once, on the caller's goroutine, when d <= 0.
func (s *scheduler) after(d time.Duration, j job) {
	if d <= 0 {
		j.run()
		return
	}
	it := schedItem{at: s.now() + int64(d), j: j}
	s.mu.Lock()
	s.seq++
	it.seq = s.seq
	s.heap = append(s.heap, it)
	s.up(len(s.heap) - 1)
	first := s.heap[0].seq == it.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// len returns how many jobs wait.
func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.heap)
}

// clear forgets every waiting job.
func (s *scheduler) clear() {
	s.mu.Lock()
	clear(s.heap)
	s.heap = s.heap[:0]
	s.mu.Unlock()
}

func (s *scheduler) close() {
	close(s.stop)
	<-s.done
}

// slack lets the loop run jobs due within this much of now together, saving wake-ups.
const slack = int64(200 * time.Microsecond)

func (s *scheduler) loop() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	var due []job
	for {
		s.mu.Lock()
		now := s.now()
		for len(s.heap) > 0 && s.heap[0].at <= now+slack {
			due = append(due, s.pop().j)
		}
		wait := time.Duration(-1)
		if len(s.heap) > 0 {
			wait = time.Duration(s.heap[0].at - now)
		}
		s.mu.Unlock()
		if len(due) > 0 {
			for i, j := range due {
				j.run()
				due[i] = nil
			}
			due = due[:0]
			continue
		}
		if wait < 0 {
			wait = time.Hour
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-s.wake:
		case <-s.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}

func (s *scheduler) less(i, j int) bool {
	a, b := &s.heap[i], &s.heap[j]
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (s *scheduler) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			return
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *scheduler) pop() schedItem {
	h := s.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = schedItem{}
	s.heap = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s.heap[i], s.heap[m] = s.heap[m], s.heap[i]
		i = m
	}
	return top
}
